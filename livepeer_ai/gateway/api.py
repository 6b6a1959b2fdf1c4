"""The gateway's public API under /api/v1/: the runner routes, fields, defaults and errors.

Bodies are validated with the runner's own schemas (livepeer_ai/runner/schemas.py),
so a request the gateway accepts is one a runner accepts, and the 400/422 shapes
are the runner API's (every refusal is JSON: gateway/api_errors.py). Every input is
bounded before it costs memory or CPU: the body's size and type, JSON's depth, finite
numbers, valid Unicode, a video's frames × pixels. Synchronous by default;
`Prefer: respond-async` answers 202 with a request id to poll (`GET /jobs/<id>`) or
stream (`GET /jobs/<id>/events`). What each route answers is in the OpenAPI document
(gateway/api_schemas.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from ninja import NinjaAPI, Query
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import ValidationError

from livepeer_ai import json_input
from livepeer_ai.body_limit import MAX_BODY_BYTES
from livepeer_ai.gateway import idempotency, job_states, payment, queue, subtitles, usage, webhooks
from livepeer_ai.gateway.api_errors import error, invalid
from livepeer_ai.gateway.api_schemas import (
    EVENT_STREAM,
    JOB_EVENTS_RESPONSES,
    JOB_OPERATIONS,
    JOB_RESPONSES,
    LLM_EXTRA_RESPONSES,
    SUBMIT_EXTRA_RESPONSES,
    USAGE_RESPONSES,
    request_schema,
    submit_responses,
    webhook_properties,
)
from livepeer_ai.gateway.job_states import status_of
from livepeer_ai.gateway.media_links import signed_media_url
from livepeer_ai.gateway.models import ApiKey, Job, JobStatus
from livepeer_ai.gateway.workflow import create_api_job
from livepeer_ai.messages import CHAT_STREAM_DONE, chat_chunk, chat_error, error_body, sse_event
from livepeer_ai.payments.eth_usd import current_rate
from livepeer_ai.pipelines.audio import decode_audio
from livepeer_ai.pipelines.media import MediaTooLarge, UnsupportedMedia, measure_image_or_video, measure_upload
from livepeer_ai.protocol.units import units_for
from livepeer_ai.registry.curation import ModelNotRoutable, routable_model
from livepeer_ai.registry.loras import routable_loras
from livepeer_ai.runner.schemas import (
    FILE_FIELDS,
    MAX_JSON_BYTES,
    PARAMS_BY_PIPELINE,
    BadValue,
    BodyTooLarge,
    RequestInvalid,
    SegmentAnything2Params,
    check_input_size,
    check_segment_input,
    check_values,
    json_object,
    missing_field_error,
    requested_loras,
    validation_errors,
)

POLL_S = 0.2


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return ApiKey.authenticate(token)


api = NinjaAPI(
    title="livepeer-ai gateway", version="1.0.0", urls_namespace="api-v1", auth=ApiKeyAuth(), description=__doc__
)


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error(401, "Missing or invalid API key (Authorization: Bearer <key>).")


@api.exception_handler(NinjaValidationError)
def invalid_path(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return invalid(exc.errors)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error(exc.status_code, exc.message)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error(404, "Not found.")


class Rejected(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


class ApiRequest(HttpRequest):
    """A request django-ninja has authenticated: `auth` is its API key (ApiKeyAuth)."""

    auth: ApiKey


@dataclass
class Upload:
    name: str
    raw: bytes
    mime: str
    size: tuple[int, int]
    frames: int
    ms: int = 0  # audio's duration, billed by audio-to-text


def parse(request: HttpRequest, pipeline: str) -> tuple[dict[str, Any], Upload | None, webhooks.Subscription | None]:
    """Fields and upload, checked exactly as a runner checks them; and the webhook, if one is named."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit():
        raise Rejected(error(400, "Content-Length must be a number of bytes."))
    if int(length) > MAX_BODY_BYTES:
        raise Rejected(error(413, "Request body is over the 50 MB limit."))
    upload = None
    try:
        if pipeline not in FILE_FIELDS:
            if request.content_type != "application/json":
                raise Rejected(error(415, f"Send {pipeline}'s fields as JSON (Content-Type: application/json)."))
            if int(length) > MAX_JSON_BYTES:
                raise BodyTooLarge(f"A JSON body may be at most {MAX_JSON_BYTES // 1024} KiB.")
            fields = json_object(request.body)
        else:
            if request.content_type != "multipart/form-data":
                raise Rejected(error(415, f"Send {pipeline}'s fields and file as multipart/form-data."))
            fields, upload = form_fields(request, FILE_FIELDS[pipeline])
        # The gateway's own fields, never sent on to a runner.
        hook = {name: fields.pop(name) for name in (webhooks.URL_FIELD, webhooks.EVENTS_FIELD) if name in fields}
        # JSON has types, held to as the OpenAPI document gives them (a seed of `false` is no seed);
        # form fields are all text, converted.
        params = PARAMS_BY_PIPELINE[pipeline].model_validate(fields, strict=pipeline not in FILE_FIELDS)
    except BodyTooLarge as exc:
        raise Rejected(error(413, str(exc))) from None
    except RequestInvalid as exc:
        raise Rejected(invalid(exc.errors)) from None
    except ValidationError as exc:
        raise Rejected(invalid(validation_errors(exc))) from None
    model_id = params.model_id or settings.DEFAULT_MODELS.get(pipeline, "")
    try:
        # Only approved models are routed; refused here, before any job exists (ModelNotRoutable says why).
        entry = routable_model(pipeline, model_id)
    except ModelNotRoutable as exc:
        raise Rejected(error(exc.status, exc.message)) from None
    measured: Upload | None = None
    try:
        check_values(params, model_id, entry.max_side, entry.family)
        # Named LoRAs must be approved for this model's base: refused here too, before any job.
        routable_loras(requested_loras(params), model_id, entry.family)
        if upload is not None:
            # Measured once here; the stage bills from these numbers without decoding again.
            if pipeline == "audio-to-text":
                measured = Upload(*upload, size=(0, 0), frames=0, ms=decode_audio(upload[1]).duration_ms)
            elif isinstance(params, SegmentAnything2Params):
                size, frames = measure_image_or_video(upload[1])
                check_segment_input(params, size, frames, entry.max_side)
                measured = Upload(*upload, size=size, frames=frames)
            else:
                size, frames = measure_upload(upload[1], pipeline == "frame-interpolation")
                check_input_size(pipeline, size, entry.max_side)
                measured = Upload(*upload, size=size, frames=frames)
    except BadValue as exc:
        raise Rejected(error(400, str(exc))) from None
    except ModelNotRoutable as exc:
        raise Rejected(error(exc.status, exc.message)) from None
    except MediaTooLarge as exc:
        raise Rejected(error(413, str(exc))) from None
    except UnsupportedMedia as exc:
        raise Rejected(error(415, str(exc))) from None
    # Keep what the caller sent (with the model made explicit), typed by the schema.
    body = params.model_dump(exclude_none=True, include=set(fields) | {"model_id"})
    body["model_id"] = model_id
    try:
        subscription = webhooks.take_subscription(hook, request.build_absolute_uri("/").rstrip("/"))
    except webhooks.WebhookRefused as exc:
        raise Rejected(error(400, exc.message)) from None
    return body, measured, subscription


def form_fields(request: HttpRequest, file_field: str) -> tuple[dict[str, Any], tuple[str, bytes, str]]:
    """A multipart body's text fields and its one upload; Django's own refusals of it, as the API's."""
    try:
        fields: dict[str, Any] = dict(request.POST.items())
        file = request.FILES.get(file_field)
    except RequestDataTooBig:
        raise BodyTooLarge(
            f"The form's text fields are over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024} KiB in all."
        ) from None
    except (MultiPartParserError, SuspiciousOperation) as exc:
        # Too many fields or files, a broken boundary: Django's own words say which.
        raise Rejected(error(400, f"Malformed multipart body: {exc}")) from None
    if file is None:
        raise RequestInvalid(missing_field_error(file_field))
    for name, value in fields.items():
        try:
            # As a JSON body's strings are held (json_input): text that can be stored.
            json_input.check_text(value)
        except json_input.JsonRefused as exc:
            raise RequestInvalid([{"loc": ["body", name], "msg": str(exc), "type": exc.kind}]) from None
    return fields, (file.name or "upload", file.read(), file.content_type or "application/octet-stream")


def media_url(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(signed_media_url(path))


def links(request: HttpRequest) -> Callable[[str], str]:
    """Absolute, signed links to stored files, on the host the client called."""
    return lambda path: media_url(request, path)


def result_body(request: HttpRequest, job: Job) -> dict[str, Any]:
    return job_states.result_body(job, links(request))


def job_state(request: HttpRequest, job: Job) -> dict[str, Any]:
    return job_states.job_state(job, links(request))


def accept(request: ApiRequest, pipeline: str) -> Job | HttpResponse:
    """The request's job: a new one, or the one its Idempotency-Key already made (gateway/idempotency.py)."""
    try:
        key = idempotency.key_of(request)
        fields, upload, webhook = parse(request, pipeline)
        digest = idempotency.request_digest(pipeline, fields, upload.raw if upload else None)
        return idempotency.once(
            request.auth, key, digest, lambda: admit(pipeline, fields, upload, request, key, digest, webhook)
        )
    except Rejected as rejected:
        return rejected.response
    except idempotency.KeyRefused as exc:
        return error(exc.status, exc.message)


def admit(
    pipeline: str,
    fields: dict[str, Any],
    upload: Upload | None,
    request: ApiRequest,
    key: str,
    digest: str,
    webhook: webhooks.Subscription | None = None,
) -> Job:
    unsold = queue.unsold(pipeline, fields["model_id"])
    if unsold:
        # Nobody could ever take it: say so now rather than after the queue's maximum wait.
        raise Rejected(error(503, unsold))
    # Units as the stage will bill them (workflow.api_stage_request), priced at the cheapest offer.
    units = units_for(
        pipeline, fields, upload.size if upload else None, upload.frames if upload else 0, upload.ms if upload else 0
    )
    unpayable = payment.unpayable(pipeline, fields["model_id"], units)
    if unpayable:
        raise Rejected(error(402, unpayable))
    most = usage.most_it_may_cost(pipeline, fields["model_id"], units)
    # Read before the transaction: it may ask the chain, and the transaction holds the key's row
    # (and, on SQLite, the database's one write lock).
    rate = current_rate().recorded()
    # Checked and created in one transaction holding the key's row: a limit is never passed by a race.
    with transaction.atomic():
        try:
            usage.within_limit(request.auth, most)
        except usage.SpendLimitReached as exc:
            raise Rejected(JsonResponse({"detail": exc.detail()}, status=402)) from None
        # Created and queued in one transaction: a client with a request id has a queued job.
        return create_api_job(
            pipeline,
            fields,
            upload,
            request.auth,
            idempotency_key=key,
            request_digest=digest,
            fee_estimate_wei=most,
            webhook=webhook,
            rate=rate,
        )


def subtitle_format(request: HttpRequest, pipeline: str) -> str | HttpResponse:
    """`?format=srt|vtt` (audio-to-text only): the answer as a subtitle file; "" for JSON."""
    fmt = request.GET.get("format", "")
    if fmt in ("", "json"):
        return ""
    if pipeline != "audio-to-text":
        return error(400, "format is only for audio-to-text answers (srt or vtt).")
    if fmt not in subtitles.FORMATS:
        return error(400, f"format must be json, srt or vtt; got {fmt[:20]!r}.")
    return fmt


def subtitle_file(job: Job, fmt: str) -> HttpResponse:
    try:
        text = subtitles.subtitles(job.outputs.get(job.stages[0], {}), fmt)
    except subtitles.NoTimestamps as exc:
        return error(409, str(exc))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        # The chunks are kept as the node sent them (workflow.store_api_result): theirs to get right.
        return error(502, "The node's answer has malformed timestamps: no subtitles can be made from it.")
    response = HttpResponse(text, content_type=subtitles.FORMATS[fmt])
    response["Content-Disposition"] = f'inline; filename="{job.id}.{fmt}"'
    return response


async def submit(request: ApiRequest, pipeline: str) -> HttpResponseBase:
    fmt = subtitle_format(request, pipeline)
    if isinstance(fmt, HttpResponse):
        return fmt
    if fmt and request.POST.get("return_timestamps", "true").lower() == "false":
        return error(400, "Subtitles need timestamps: leave return_timestamps at true, or word.")
    # Async so that waiting for a job never holds the thread Django runs sync views on.
    accepted = await sync_to_async(accept)(request, pipeline)
    if isinstance(accepted, HttpResponse):
        return accepted
    job = accepted
    streamed = pipeline == "llm" and job.parameters["request"].get("stream") is True
    if streamed and "respond-async" not in request.headers.get("Prefer", ""):
        return StreamingHttpResponse(
            chat_stream(job), content_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    if "respond-async" in request.headers.get("Prefer", ""):
        response = JsonResponse({"request_id": str(job.id)}, status=202)
        response["Location"] = request.build_absolute_uri(f"/api/v1/jobs/{job.id}")
        return response
    deadline = time.monotonic() + settings.API_SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        await sync_to_async(job.refresh_from_db)()
        if job.status == JobStatus.SUCCEEDED:
            if fmt:
                return subtitle_file(job, fmt)
            return JsonResponse(await sync_to_async(result_body)(request, job))
        if job.is_finished:
            return error(
                status_of(job) if job.status == JobStatus.FAILED else 409, job.error_message or "Job canceled."
            )
        await asyncio.sleep(POLL_S)
    # Still running: hand back the id rather than hold the connection forever.
    return JsonResponse({"request_id": str(job.id)}, status=202)


async def chat_stream(job: Job) -> AsyncIterator[str]:
    """A streamed llm answer in OpenAI's chunks, read from the job row: the text the engine has
    written so far (as often as progress), then the rest from the result, the finish reason and
    the tokens used, then `[DONE]`. The chunks' id is the job's, to look it up later."""
    chunk_id, created = f"chatcmpl-{job.id.hex}", int(job.created_at.timestamp())
    model = str(job.parameters["request"]["model_id"])
    yield chat_chunk(chunk_id, model, created, {"role": "assistant", "content": ""})
    sent = ""
    deadline = time.monotonic() + settings.API_SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        await sync_to_async(job.refresh_from_db)()
        output = job.outputs.get("llm", {})
        done = job.status == JobStatus.SUCCEEDED
        try:
            # The answer as the node sent it (kept unchecked, workflow.store_api_result): read with care.
            text = str(output["choices"][0]["message"]["content"]) if done else str(output.get("streamed", ""))
            ending = (output["choices"][0]["finish_reason"], output["usage"]) if done else None
        except (KeyError, IndexError, TypeError):
            yield chat_error("The node's answer is not an LLMResponse.", 502)
            break
        if not (text.startswith(sent) or sent.startswith(text)):
            # A stage retried on another node after a failure writes its own answer from the start.
            yield chat_error("The answer was restarted on another node and no longer matches what was sent.", 502)
            break
        if len(text) > len(sent):
            yield chat_chunk(chunk_id, model, created, {"content": text[len(sent) :]})
            sent = text
        if ending is not None:
            yield chat_chunk(chunk_id, model, created, {}, *ending)
            break
        if job.is_finished:
            failed = job.status == JobStatus.FAILED
            yield chat_error(job.error_message or "Job canceled.", status_of(job) if failed else 409)
            break
        await asyncio.sleep(POLL_S)
    else:
        yield chat_error(f"No answer within {settings.API_SYNC_TIMEOUT_S} s; the job goes on: GET /jobs/{job.id}.", 504)
    yield CHAT_STREAM_DONE


def own_job(request: ApiRequest, job_id: uuid.UUID) -> Job | None:
    return Job.objects.filter(id=job_id, api_key=request.auth).first()


def route(pipeline: str) -> Any:
    async def view(request: ApiRequest) -> HttpResponseBase:
        return await submit(request, pipeline)

    # Livepeer's operation ids: genTextToImage, …, and genLLM.
    view.__name__ = "genLLM" if pipeline == "llm" else "gen" + pipeline.title().replace("-", "")
    return view


for _pipeline, _params in PARAMS_BY_PIPELINE.items():
    _schema = request_schema(_params)
    _schema["properties"].update(webhook_properties(multipart=_pipeline in FILE_FIELDS))
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
        response=submit_responses(_pipeline),
        openapi_extra={
            "requestBody": {"content": _content, "required": True},
            "responses": LLM_EXTRA_RESPONSES if _pipeline == "llm" else SUBMIT_EXTRA_RESPONSES,
        },
    )(route(_pipeline))


# A day as ISO 8601 writes it, and nothing else (no timestamps, no "0"): checked by usage.day_of.
UsageDay = Annotated[str | None, Query(None, pattern=usage.DAY_PATTERN, description="A UTC day, YYYY-MM-DD.")]


@api.get(
    "/usage",
    operation_id="getUsage",
    summary="This API key's jobs, units and fees by UTC day and pipeline, and its daily spend limit",
    response=USAGE_RESPONSES,
)
def get_usage(request: ApiRequest, start: UsageDay = None, end: UsageDay = None) -> HttpResponse:
    """`start` and `end` are UTC days (YYYY-MM-DD), both included; by default the last 30 days."""
    try:
        days = {name: usage.day_of(name, raw) for name, raw in (("start", start), ("end", end))}
    except usage.NotADay as exc:
        return invalid([{"loc": ["query", exc.name], "msg": str(exc), "type": "date_from_datetime_parsing"}])
    try:
        first, last = usage.period(days["start"], days["end"])
    except usage.BadPeriod as exc:
        return error(400, str(exc))
    used = usage.usage_of(request.auth, first, last)
    spend = usage.spend_today(request.auth)
    return JsonResponse(
        {
            "api_key": str(request.auth),
            "start": first.isoformat(),
            "end": last.isoformat(),
            "total": used.total.as_json(),
            "days": [row.as_json() for row in used.rows],
            "spend_limit": spend.as_json() if spend else None,
        }
    )


@api.get(
    "/jobs/{job_id}",
    operation_id=JOB_OPERATIONS["GetJob"],
    summary="A job's status, progress and result",
    response=JOB_RESPONSES,
)
def get_job(request: ApiRequest, job_id: uuid.UUID) -> HttpResponse:
    job = own_job(request, job_id)
    if job is None:
        return error(404, "No job of yours has that id.")
    fmt = subtitle_format(request, job.stages[0] if job.stages else "")
    if isinstance(fmt, HttpResponse):
        return fmt
    if fmt:
        if job.status != JobStatus.SUCCEEDED:
            return error(409, f"The job is {job.status}: its subtitles exist once it has succeeded.")
        return subtitle_file(job, fmt)
    return JsonResponse(job_state(request, job))


@api.post(
    "/jobs/{job_id}/cancel",
    operation_id=JOB_OPERATIONS["CancelJob"],
    summary="Cancel a job; the running stage stops",
    response=JOB_RESPONSES,
)
def cancel_job(request: ApiRequest, job_id: uuid.UUID) -> HttpResponse:
    job = own_job(request, job_id)
    if job is None:
        return error(404, "No job of yours has that id.")
    job.cancel()
    return JsonResponse(job_state(request, job))


@api.get(
    "/jobs/{job_id}/events",
    operation_id=JOB_OPERATIONS["JobEvents"],
    summary="Server-Sent Events: progress, then the result or error",
    response=JOB_EVENTS_RESPONSES,
    openapi_extra=EVENT_STREAM,
)
def job_events(request: ApiRequest, job_id: uuid.UUID) -> HttpResponseBase:
    job = own_job(request, job_id)
    if job is None:
        return error(404, "No job of yours has that id.")
    return StreamingHttpResponse(
        event_stream(request, job), content_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


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
                yield sse_event("progress", {"step": job.step, "total": job.total_steps})
            state = await sync_to_async(job_state)(request, job)
            if job.status == JobStatus.SUCCEEDED:
                yield sse_event("result", state["result"])
            else:
                failure = state.get("error") or {"status": 409, "msg": "Job canceled."}
                yield sse_event("error", {**error_body(failure["msg"]), "status": failure["status"]})
            return
        now = (position, step, total)
        if now != last:
            last = now
            if position:
                yield sse_event("queued", {"position": position, "eta_s": eta_s})
            elif total:
                yield sse_event("progress", {"step": step, "total": total})
        await asyncio.sleep(POLL_S)
