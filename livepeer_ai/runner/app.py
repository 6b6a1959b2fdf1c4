"""The runner HTTP service: Livepeer's AI runner API for one warm (pipeline, model).

Served with FastAPI because ai-runner itself is FastAPI: its 422 body, its
`{"detail":{"msg"}}` errors and its routes come out the same with no translation.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp

from livepeer_ai.body_limit import MAX_BODY_BYTES, BodySizeLimit
from livepeer_ai.messages import CHAT_STREAM_DONE, chat_chunk, chat_error, error_body, sse_event
from livepeer_ai.pipelines.audio import decode_audio
from livepeer_ai.pipelines.base import ModelSpec
from livepeer_ai.pipelines.media import (
    MediaTooLarge,
    UnsupportedMedia,
    decode_image,
    decode_image_or_video,
    decode_video_frames,
)
from livepeer_ai.pipelines.previews import PREVIEWS_HEADER
from livepeer_ai.runner import execute
from livepeer_ai.runner.jobs import JobSlot, RunnerBusy, final_event, start_job, stream_events
from livepeer_ai.runner.lora_catalog import FixedLoras, LoraCatalog, resolve_loras
from livepeer_ai.runner.schemas import (
    FILE_FIELDS,
    NOT_MULTIPART,
    PARAMS_BY_PIPELINE,
    BadValue,
    BodyTooLarge,
    LLMParams,
    RequestInvalid,
    RunnerParams,
    SegmentAnything2Params,
    check_input_size,
    check_segment_input,
    check_values,
    json_object,
    missing_field_error,
    requested_loras,
    validation_errors,
)

logger = logging.getLogger(__name__)

RUNNER_VERSION = "0.1.0"

Loader = Callable[[ModelSpec, str | None], Any]


def error(status: int, msg: str) -> JSONResponse:
    return JSONResponse(error_body(msg), status_code=status)


class RunnerState:
    def __init__(self, spec: ModelSpec, device: str | None, loader: Loader, loras: LoraCatalog) -> None:
        self.spec = spec
        self.device = device
        self.loader = loader
        self.loras = loras
        self.pipeline: Any = None
        self.status = "LOADING"
        self.load_error = ""
        self.slot = JobSlot()

    def load(self) -> None:
        try:
            self.pipeline = self.loader(self.spec, self.device)
            self.status = "READY"
            logger.info("runner ready: %s %s", self.spec.pipeline, self.spec.model_id)
        except Exception as exc:
            logger.exception("runner failed to load %s", self.spec.model_id)
            self.load_error = f"{type(exc).__name__}: {exc}"
            self.status = "ERROR"

    def health(self) -> dict[str, Any]:
        # LOADING while the model loads; IDLE when ready and free (the supervisor
        # may hand it a job); OK while a job runs; ERROR when loading failed.
        if self.status == "READY":
            return {"status": "OK" if self.slot.busy else "IDLE"}
        if self.status == "ERROR":
            return {"status": "ERROR", "detail": {"msg": self.load_error}}
        return {"status": "LOADING"}


async def parse_request(request: Request, pipeline: str) -> tuple[dict[str, Any], UploadFile | None]:
    """Body fields and the upload, from JSON (text-to-image) or multipart (the rest)."""
    if pipeline not in FILE_FIELDS:
        return json_object(await request.body()), None
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise RequestInvalid(NOT_MULTIPART)
    form = await request.form(max_part_size=MAX_BODY_BYTES)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    upload = form.get(FILE_FIELDS[pipeline])
    if not isinstance(upload, UploadFile):
        raise RequestInvalid(missing_field_error(FILE_FIELDS[pipeline]))
    return fields, upload


def create_app(
    spec: ModelSpec, device: str | None = None, loader: Loader | None = None, loras: LoraCatalog | None = None
) -> ASGIApp:
    """`loras`: the LoRAs requests may name (none when not given; `run_runner` gives the registry's)."""
    from livepeer_ai.pipelines.loader import load_pipeline

    state = RunnerState(spec, device, loader or load_pipeline, loras or FixedLoras())
    auth_token = os.environ.get("AUTH_TOKEN", "")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load warm at start, in a thread, so /health says LOADING meanwhile.
        threading.Thread(target=state.load, name="model-load", daemon=True).start()
        yield

    app = FastAPI(title=f"livepeer-ai runner: {spec.pipeline}", version=RUNNER_VERSION, lifespan=lifespan)
    app.state.runner = state

    @app.middleware("http")
    async def check_token(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        authorized = hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {auth_token}")
        if auth_token and request.url.path != "/health" and not authorized:
            return error(401, "Invalid bearer token.")
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return state.health()

    @app.get("/hardware/info")
    async def hardware_info() -> dict[str, Any]:
        from livepeer_ai.pipelines.device import gpu_info

        device_name = getattr(state.pipeline, "device", device or "")
        return {
            "pipeline": spec.pipeline,
            "model_id": spec.model_id,
            "gpu_info": gpu_info(),
            "device": str(device_name),
        }

    @app.get("/version")
    async def version() -> dict[str, Any]:
        return {"pipeline": spec.pipeline, "model_id": spec.model_id, "version": RUNNER_VERSION}

    @app.post("/cancel")
    async def cancel() -> dict[str, Any]:
        return {"canceled": state.slot.cancel_current()}

    async def run(request: Request) -> Response:
        return await handle_job(request, state)

    app.add_api_route(f"/{spec.pipeline}", run, methods=["POST"], include_in_schema=True)
    app.add_api_route(f"/{spec.pipeline}/", run, methods=["POST"], include_in_schema=False)
    return BodySizeLimit(app, MAX_BODY_BYTES)


async def handle_job(request: Request, state: RunnerState) -> Response:
    spec = state.spec
    try:
        fields, upload = await parse_request(request, spec.pipeline)
        params: RunnerParams = PARAMS_BY_PIPELINE[spec.pipeline].model_validate(fields)
        check_values(params, spec.model_id, spec.max_side, spec.family)
        requested = requested_loras(params)
        # Only when a request names some: the catalog may read the registry.
        loras = await asyncio.to_thread(resolve_loras, requested, state.loras) if requested else []
        media = await decode_upload(upload, spec, params) if upload is not None else None
    except RequestInvalid as exc:
        return JSONResponse({"detail": exc.errors}, status_code=422)
    except ValidationError as exc:
        return JSONResponse({"detail": validation_errors(exc)}, status_code=422)
    except BadValue as exc:
        return error(400, str(exc))
    except (MediaTooLarge, BodyTooLarge) as exc:
        return error(413, str(exc))
    except UnsupportedMedia as exc:
        return error(415, str(exc))
    if state.status == "ERROR":
        return error(500, f"Runner failed to load its model: {state.load_error}")
    if state.status != "READY":
        return error(503, "Runner is still loading its model.")
    try:
        cancel = state.slot.acquire()
    except RunnerBusy:
        return error(503, "Runner is busy with another job.")
    our_events = "text/event-stream" in request.headers.get("accept", "")
    # Only a streamed job's progress can carry them, and only for a caller that asks.
    previews = our_events and request.headers.get(PREVIEWS_HEADER) == "1"
    job = execute.job_for(state.pipeline, spec, params, media, loras, previews)
    events = start_job(state.slot, cancel, job, spec.pipeline)
    if isinstance(params, LLMParams) and params.stream and not our_events:
        # Livepeer's (and OpenAI's) streamed answer; a node asks for our events instead, the
        # same deltas among progress and the result it signs.
        return StreamingResponse(
            chat_body(events, cancel, spec.model_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    if our_events:
        return StreamingResponse(
            sse_body(events, cancel),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    outcome = await final_event(events)
    return JSONResponse(outcome.body, status_code=outcome.status)


async def decode_upload(upload: UploadFile, spec: ModelSpec, params: RunnerParams) -> Any:
    raw = await upload.read()
    if isinstance(params, SegmentAnything2Params):
        media = await asyncio.to_thread(decode_image_or_video, raw)
        if isinstance(media, list):
            check_segment_input(params, media[0].size, len(media), spec.max_side)
        else:
            check_segment_input(params, media.size, 0, spec.max_side)
        return media
    if spec.pipeline == "frame-interpolation":
        frames = await asyncio.to_thread(decode_video_frames, raw)
        check_input_size(spec.pipeline, frames[0].size, spec.max_side)
        return frames
    if spec.pipeline == "audio-to-text":
        return await asyncio.to_thread(decode_audio, raw)
    image = await asyncio.to_thread(decode_image, raw)
    check_input_size(spec.pipeline, image.size, spec.max_side)
    return image


async def sse_body(events: asyncio.Queue[Any], cancel: Any) -> AsyncIterator[bytes]:
    async for event in stream_events(events, cancel):
        payload = dict(event.body)
        if event.kind == "error":
            payload["status"] = event.status
        yield sse_event(event.kind, payload).encode()


async def chat_body(events: asyncio.Queue[Any], cancel: Any, model_id: str) -> AsyncIterator[bytes]:
    """A streamed llm answer: the assistant's role, a chunk per text delta, a last one with
    the finish reason and the tokens used, then `[DONE]`; a failure is an error chunk."""
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    yield chat_chunk(chunk_id, model_id, created, {"role": "assistant", "content": ""}).encode()
    async for event in stream_events(events, cancel):
        if event.kind == "delta":
            yield chat_chunk(chunk_id, model_id, created, {"content": event.body["content"]}).encode()
        elif event.kind == "result":
            choice = event.body["choices"][0]
            yield chat_chunk(chunk_id, model_id, created, {}, choice["finish_reason"], event.body["usage"]).encode()
        elif event.kind == "error":
            yield chat_error(event.body["detail"]["msg"], event.status).encode()
    yield CHAT_STREAM_DONE.encode()
