"""What the public API answers, as schemas: published in its OpenAPI document for every route and status.

The views build their JSON themselves (the runner API's shapes, byte for byte); these
describe it, and tests check real answers against the published document.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field

from livepeer_ai.gateway.models import JobStatus


class Message(Schema):
    msg: str


class Error(Schema):
    """Every refusal but 422: `{"detail": {"msg": "..."}}`."""

    detail: Message


class InvalidItem(Schema):
    loc: list[str] = Field(description='Where: ["body", field], ["path", name] or ["body"] for the whole body.')
    msg: str
    type: str


class Invalid(Schema):
    """422: a body or path that is not the right shape, in FastAPI's item list."""

    detail: list[InvalidItem]


class Image(Schema):
    url: str = Field(description="An absolute URL to fetch the image (or, for video, the MP4) from.")
    seed: int | None
    nsfw: bool


class Media(Schema):
    url: str


class Result(Schema):
    """The runner API's result: images (for video, `images[0]` is the MP4), and for video a GIF too."""

    images: list[Image]
    gif: Media | None = None


class Accepted(Schema):
    request_id: str = Field(description="The job's id (a UUID): poll `GET /jobs/{id}` or stream its events.")


class JobError(Schema):
    status: int = Field(description="The HTTP status the job failed with, as a synchronous request would answer.")
    msg: str


class JobState(Schema):
    request_id: str
    status: JobStatus
    pipeline: str
    step: int
    total_steps: int
    queue_position: int | None
    eta_s: float | None
    result: Result | None = Field(default=None, description="Once succeeded.")
    error: JobError | None = Field(default=None, description="Once failed.")


# Refusals every authenticated route can answer.
REFUSALS: dict[int, Any] = {401: Error, 422: Invalid, 500: Error}

# A submission: 200 with the result when it finishes in time, else 202 with its id; a job
# that fails while the request waits answers with the status it failed with (any, in the
# Error shape: a node's or runner's refusal, a timeout), hence the default.
SUBMIT_RESPONSES: dict[int, Any] = {
    200: Result,
    202: Accepted,
    400: Error,
    403: Error,
    404: Error,
    409: Error,
    413: Error,
    415: Error,
    502: Error,
    503: Error,
    504: Error,
    **REFUSALS,
}
JOB_RESPONSES: dict[int, Any] = {200: JobState, 404: Error, **REFUSALS}
# The event stream's 200 is not JSON: given below, in EVENT_STREAM.
JOB_EVENTS_RESPONSES: dict[int, Any] = {404: Error, **REFUSALS}
ANY_OTHER_FAILURE = {
    "responses": {
        "default": {
            "description": "A job that failed while the request waited: the status it failed with.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    }
}
EVENT_STREAM = {
    "responses": {
        200: {
            "description": "Server-Sent Events: `queued`, `progress`, then `result` or `error`.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    }
}
