"""The gateway's public API under /api/v1/: the runner routes, fields, defaults and errors.

Bodies are validated with the runner's own schemas (livepeer_ai/runner/schemas.py),
so a request the gateway accepts is one a runner accepts, and the 400/422 shapes
are the runner API's. Synchronous by default; `Prefer: respond-async` answers
202 with a request id to poll (`GET /jobs/<id>`) or stream (`GET /jobs/<id>/events`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer
from pydantic import ValidationError

from livepeer_ai.gateway import queue
from livepeer_ai.gateway.media_links import signed_media_url
from livepeer_ai.gateway.models import ApiKey, Job, JobStatus
from livepeer_ai.gateway.workflow import create_api_job
from livepeer_ai.pipelines.media import MediaTooLarge, UnsupportedMedia, measure_upload
from livepeer_ai.registry.curation import ModelNotRoutable, routable_model
from livepeer_ai.runner.schemas import (
    FILE_FIELDS,
    NOT_MULTIPART,
    PARAMS_BY_PIPELINE,
    BadValue,
    RequestInvalid,
    check_values,
    json_object,
    missing_field_error,
    validation_errors,
)

MAX_BODY_BYTES = 50 * 1024 * 1024
POLL_S = 0.2


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return ApiKey.authenticate(token)


api = NinjaAPI(
    title="livepeer-ai gateway", version="1.0.0", urls_namespace="api-v1", auth=ApiKeyAuth(), description=__doc__
)


def error(status: int, msg: str) -> JsonResponse:
    return JsonResponse({"detail": {"msg": msg}}, status=status)


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error(401, "Missing or invalid API key (Authorization: Bearer <key>).")


class Rejected(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


@dataclass
class Upload:
    name: str
    raw: bytes
    mime: str
    size: tuple[int, int]
    frames: int


def parse(request: HttpRequest, pipeline: str) -> tuple[dict[str, Any], Upload | None]:
    """Fields and upload, checked exactly as a runner checks them."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
        raise Rejected(error(413, "Request body is over the 50 MB limit."))
    upload = None
    try:
        if pipeline not in FILE_FIELDS:
            fields = json_object(request.body)
        else:
            if not request.content_type.startswith("multipart/form-data"):
                raise RequestInvalid(NOT_MULTIPART)
            fields = dict(request.POST.items())
            file = request.FILES.get(FILE_FIELDS[pipeline])
            if file is None:
                raise RequestInvalid(missing_field_error(FILE_FIELDS[pipeline]))
            upload = (file.name or "upload", file.read(), file.content_type or "application/octet-stream")
        params = PARAMS_BY_PIPELINE[pipeline].model_validate(fields)
    except RequestInvalid as exc:
        raise Rejected(JsonResponse({"detail": exc.errors}, status=422)) from None
    except ValidationError as exc:
        raise Rejected(JsonResponse({"detail": validation_errors(exc)}, status=422)) from None
    model_id = params.model_id or settings.DEFAULT_MODELS.get(pipeline, "")
    try:
        # Only approved models are routed; refused here, before any job exists (ModelNotRoutable says why).
        entry = routable_model(pipeline, model_id)
    except ModelNotRoutable as exc:
        raise Rejected(error(exc.status, exc.message)) from None
    measured: Upload | None = None
    try:
        check_values(params, model_id, entry.max_side)
        if upload is not None:
            # Measured once here; the stage bills from these numbers without decoding again.
            size, frames = measure_upload(upload[1], pipeline == "frame-interpolation")
            if pipeline == "upscale" and max(size) > entry.max_side:
                raise BadValue(f"Image is {size[0]}x{size[1]}; this model takes up to {entry.max_side} px a side.")
            measured = Upload(*upload, size=size, frames=frames)
    except BadValue as exc:
        raise Rejected(error(400, str(exc))) from None
    except MediaTooLarge as exc:
        raise Rejected(error(413, str(exc))) from None
    except UnsupportedMedia as exc:
        raise Rejected(error(415, str(exc))) from None
    # Keep what the caller sent (with the model made explicit), typed by the schema.
    body = params.model_dump(exclude_none=True, include=set(fields) | {"model_id"})
    body["model_id"] = model_id
    return body, measured


def media_url(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(signed_media_url(path))


def result_body(request: HttpRequest, job: Job) -> dict[str, Any]:
    """The runner API's response shape, with absolute, fetchable media URLs."""
    output = job.outputs.get(job.stages[0], {})
    if "images" in output:
        return {
            "images": [
                {"url": media_url(request, i["path"]), "seed": i["seed"], "nsfw": i["nsfw"]} for i in output["images"]
            ]
        }
    # Video comes back as images[].url of the MP4, as go-livepeer's gateway returns it.
    return {
        "images": [{"url": media_url(request, output["mp4"]), "seed": output.get("seed"), "nsfw": False}],
        "gif": {"url": media_url(request, output["gif"])},
    }


def status_of(job: Job) -> int:
    code = job.error_code.removeprefix("runner_")
    return int(code) if code.isdigit() else 500


def job_state(request: HttpRequest, job: Job) -> dict[str, Any]:
    state: dict[str, Any] = {
        "request_id": str(job.id),
        "status": job.status,
        "pipeline": job.stages[0] if job.stages else "",
        "step": job.step,
        "total_steps": job.total_steps,
        "queue_position": job.queue_position,
        "eta_s": job.eta_s,
    }
    if job.status == JobStatus.SUCCEEDED:
        state["result"] = result_body(request, job)
    elif job.status == JobStatus.FAILED:
        state["error"] = {"status": status_of(job), "msg": job.error_message}
    return state


def accept(request: HttpRequest, pipeline: str) -> Job | HttpResponse:
    try:
        fields, upload = parse(request, pipeline)
    except Rejected as rejected:
        return rejected.response
    unsold = queue.unsold(pipeline, fields["model_id"])
    if unsold:
        # Nobody could ever take it: say so now rather than after the queue's maximum wait.
        return error(503, unsold)
    # Created and queued in one transaction: a client with a request id has a queued job.
    return create_api_job(pipeline, fields, upload, request.auth)


async def submit(request: HttpRequest, pipeline: str) -> HttpResponse:
    # Async so that waiting for a job never holds the thread Django runs sync views on.
    accepted = await sync_to_async(accept)(request, pipeline)
    if isinstance(accepted, HttpResponse):
        return accepted
    job = accepted
    if "respond-async" in request.headers.get("Prefer", ""):
        response = JsonResponse({"request_id": str(job.id)}, status=202)
        response["Location"] = request.build_absolute_uri(f"/api/v1/jobs/{job.id}")
        return response
    deadline = time.monotonic() + settings.API_SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        await sync_to_async(job.refresh_from_db)()
        if job.status == JobStatus.SUCCEEDED:
            return JsonResponse(await sync_to_async(result_body)(request, job))
        if job.is_finished:
            return error(
                status_of(job) if job.status == JobStatus.FAILED else 409, job.error_message or "Job canceled."
            )
        await asyncio.sleep(POLL_S)
    # Still running: hand back the id rather than hold the connection forever.
    return JsonResponse({"request_id": str(job.id)}, status=202)


def own_job(request: HttpRequest, job_id: str) -> Job | None:
    return Job.objects.filter(id=job_id, api_key=request.auth).first()


def route(pipeline: str) -> Any:
    async def view(request: HttpRequest) -> HttpResponse:
        return await submit(request, pipeline)

    view.__name__ = "gen" + pipeline.title().replace("-", "")
    return view


for _pipeline, _params in PARAMS_BY_PIPELINE.items():
    _schema = _params.model_json_schema()
    if _pipeline in FILE_FIELDS:
        _schema["properties"][FILE_FIELDS[_pipeline]] = {"type": "string", "format": "binary"}
        _schema.setdefault("required", []).append(FILE_FIELDS[_pipeline])
        _content = {"multipart/form-data": {"schema": _schema}}
    else:
        _content = {"application/json": {"schema": _schema}}
    api.post(
        f"/{_pipeline}",
        operation_id=route(_pipeline).__name__,
        summary=f"Run {_pipeline}",
        openapi_extra={"requestBody": {"content": _content, "required": True}},
    )(route(_pipeline))


@api.get("/jobs/{job_id}", summary="A job's status, progress and result")
def get_job(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job(request, job_id)
    if job is None:
        return error(404, "No job of yours has that id.")
    return JsonResponse(job_state(request, job))


@api.post("/jobs/{job_id}/cancel", summary="Cancel a job; the running stage stops")
def cancel_job(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job(request, job_id)
    if job is None:
        return error(404, "No job of yours has that id.")
    job.cancel()
    return JsonResponse(job_state(request, job))


@api.get("/jobs/{job_id}/events", summary="Server-Sent Events: progress, then the result or error")
def job_events(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job(request, job_id)
    if job is None:
        return error(404, "No job of yours has that id.")
    return StreamingHttpResponse(
        event_stream(request, job), content_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def sse(kind: str, payload: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n"


async def event_stream(request: HttpRequest, job: Job) -> AsyncIterator[str]:
    """Events from the job row (the truth): `queued` with position/ETA, `progress` as steps advance
    (coalesced to the poll interval, the last step always sent), then `result` or `error`.

    An async generator: under ASGI, Django would buffer a sync one to the end.
    """
    last: tuple[Any, ...] = ()
    deadline = time.monotonic() + settings.API_SYNC_TIMEOUT_S

    def read() -> tuple[Any, ...]:
        job.refresh_from_db()
        return (job.queue_position, job.eta_s, job.step, job.total_steps)

    while time.monotonic() < deadline:
        position, eta_s, step, total = await sync_to_async(read)()
        if job.is_finished:
            if job.total_steps and last[1:] != (job.step, job.total_steps):
                yield sse("progress", {"step": job.step, "total": job.total_steps})
            state = await sync_to_async(job_state)(request, job)
            if job.status == JobStatus.SUCCEEDED:
                yield sse("result", state["result"])
            else:
                failure = state.get("error") or {"status": 409, "msg": "Job canceled."}
                yield sse("error", {"detail": {"msg": failure["msg"]}, "status": failure["status"]})
            return
        now = (position, step, total)
        if now != last:
            last = now
            if position:
                yield sse("queued", {"position": position, "eta_s": eta_s})
            elif total:
                yield sse("progress", {"step": step, "total": total})
        await asyncio.sleep(POLL_S)
