"""What the public API answers, as schemas: published in its OpenAPI document for every route and status.

The views build their JSON themselves (the runner API's shapes, byte for byte); these
describe it, and tests check real answers against the published document.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import BaseModel, Field

from livepeer_ai.gateway.models import JobStatus
from livepeer_ai.runner.schemas import (
    LLM_ROLES,
    LORAS_EXAMPLE,
    MAX_IMAGES_PER_PROMPT,
    MAX_LLM_TOKENS,
    MAX_LORA_WEIGHT,
    MAX_LORAS,
    MAX_SEED,
    MAX_SPEAKER_DESCRIPTION_CHARACTERS,
    MAX_SPEECH_CHARACTERS,
    MAX_STEPS,
    VALUE_RANGES,
)


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


class Chunk(Schema):
    timestamp: list[float | None] = Field(description="[start, end] in seconds; the end of the last may be null.")
    text: str


class TextResult(Schema):
    """The runner API's text answers: image-to-text's `{"text"}`, audio-to-text's `{"text", "chunks"}`."""

    text: str
    chunks: list[Chunk] | None = None


class LLMMessage(Schema):
    role: str
    content: str


class LLMChoice(Schema):
    index: int
    finish_reason: str = Field(description='"stop": the model ended its answer; "length": max_tokens reached.')
    message: LLMMessage


class LLMTokenUsage(Schema):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class LLMResult(Schema):
    """The runner API's LLMResponse: one choice, the assistant's message, and the tokens used."""

    id: str
    model: str
    created: int = Field(description="Unix time, seconds.")
    usage: LLMTokenUsage
    choices: list[LLMChoice]


class AudioResult(Schema):
    """The runner API's AudioResponse (text-to-speech): the speech as a WAV file."""

    audio: Media = Field(description="`url`: an absolute URL to fetch the WAV file from.")


class MasksResult(Schema):
    """The runner API's MasksResponse: each array as the text of its nested list (JSON), as Livepeer's
    runner writes it. An image: `masks` C×H×W at its size, `scores` C, `logits` C×h×w (the model's
    low-resolution logits, 256×256 for SAM 2), by descending score. A video adds `frames`, and each
    array leads with the frame: F×1×H×W, F×1, F×1×h×w."""

    masks: str
    scores: str
    logits: str
    frames: int | None = Field(default=None, description="A video's frame count; absent for an image.")


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
    result: Result | TextResult | LLMResult | AudioResult | MasksResult | None = Field(
        default=None, description="Once succeeded."
    )
    error: JobError | None = Field(default=None, description="Once failed.")


class SpendLimitDetail(Schema):
    msg: str
    daily_limit_wei: str | None = Field(default=None, description="The key's limit per UTC day, in wei.")
    spent_today_wei: str | None = Field(
        default=None, description="Fees of today's jobs: finished ones at their cost, unfinished at the most they may."
    )
    resets_at: str | None = Field(default=None, description="When the day's spend starts again from 0 (UTC midnight).")
    request_wei: str | None = Field(default=None, description="The most this request may cost.")


class PaymentRefused(Schema):
    """402: the API key's daily spend limit would be passed (with the numbers), or no node can be paid for it."""

    detail: SpendLimitDetail


class UsageCounts(Schema):
    jobs: int
    succeeded: int
    failed: int
    canceled: int
    units: int = Field(
        description="Units billed for the completed stages: pixels; ms of audio (audio-to-text); tokens (llm); "
        "characters of text (text-to-speech)."
    )
    fees_wei: str = Field(description="What the gateway paid the nodes for these jobs, in wei (a decimal string).")
    fees_eth: str = Field(description="The same, in ETH, exactly.")
    fees_usd: str | None = Field(
        description="In USD at the ETH/USD rate each job recorded when submitted; null when none recorded one."
    )
    unpriced_fees_wei: str = Field(description="The part of the fees from jobs that recorded no ETH/USD rate.")


class UsageDay(UsageCounts):
    date: str = Field(description="The UTC day the jobs were submitted (YYYY-MM-DD).")
    pipeline: str


class SpendLimit(Schema):
    daily_limit_wei: str
    spent_today_wei: str
    resets_at: str = Field(description="The next UTC midnight, ISO 8601.")


class Usage(Schema):
    """An API key's jobs, units and fees from `start` to `end` (UTC days, both included), by day and pipeline."""

    api_key: str = Field(description="The key's name and prefix.")
    start: str
    end: str
    total: UsageCounts
    days: list[UsageDay]
    spend_limit: SpendLimit | None = Field(description="The key's daily limit, if it has one, and today's spend.")


# Refusals every authenticated route can answer.
REFUSALS: dict[int, Any] = {401: Error, 422: Invalid, 500: Error}

# A submission: 200 with the result when it finishes in time, else 202 with its id; a job
# that fails while the request waits answers with the status it failed with (any, in the
# Error shape: a node's or runner's refusal, a timeout), hence the default.
SUBMIT_RESPONSES: dict[int, Any] = {
    200: Result,
    202: Accepted,
    400: Error,
    402: PaymentRefused,
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
# The pipelines whose runners answer with text rather than media.
TEXT_PIPELINES = frozenset({"image-to-text", "audio-to-text"})


def submit_responses(pipeline: str) -> dict[int, Any]:
    if pipeline == "llm":
        return {**SUBMIT_RESPONSES, 200: LLMResult}
    if pipeline == "text-to-speech":
        return {**SUBMIT_RESPONSES, 200: AudioResult}
    if pipeline == "segment-anything-2":
        return {**SUBMIT_RESPONSES, 200: MasksResult}
    return {**SUBMIT_RESPONSES, 200: TextResult} if pipeline in TEXT_PIPELINES else SUBMIT_RESPONSES


JOB_RESPONSES: dict[int, Any] = {200: JobState, 404: Error, **REFUSALS}
USAGE_RESPONSES: dict[int, Any] = {200: Usage, 400: Error, **REFUSALS}
JOB_OPERATIONS = {"GetJob": "getJob", "CancelJob": "cancelJob", "JobEvents": "jobEvents"}
# The event stream's 200 is not JSON: given below, in EVENT_STREAM.
JOB_EVENTS_RESPONSES: dict[int, Any] = {404: Error, **REFUSALS}
SUBMIT_EXTRA_RESPONSES = {
    "default": {
        "description": "A job that failed while the request waited: the status it failed with.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
    # What a client does with the id: OpenAPI links, which API testers follow too.
    202: {
        "links": {
            link: {"operationId": operation, "parameters": {"job_id": "$response.body#/request_id"}}
            for link, operation in JOB_OPERATIONS.items()
        }
    },
}


# llm with `stream: true` answers 200 as Server-Sent Events: OpenAI's `chat.completion.chunk`s.
LLM_EXTRA_RESPONSES = {
    **SUBMIT_EXTRA_RESPONSES,
    200: {
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "string",
                    "description": "`data: {chunk}` lines: `{id, object: chat.completion.chunk, created, model, "
                    "choices: [{index, delta: {role?, content?}, finish_reason}], usage?}`, the last with the "
                    "finish reason and usage; a failure is `data: {detail: {msg}, status}`; then `data: [DONE]`.",
                }
            }
        }
    },
}


def request_schema(params: type[BaseModel]) -> dict[str, Any]:
    """A pipeline's fields as JSON Schema, with the bounds check_values holds them to (400 outside them).

    A model's own side limit is not among them: it differs by model (nor, for llm, its context).
    """
    schema = inline_definitions(params.model_json_schema())
    bounds: dict[str, dict[str, Any]] = {
        "width": {"minimum": 8, "multipleOf": 8},
        "height": {"minimum": 8, "multipleOf": 8},
        "num_inference_steps": {"minimum": 1, "maximum": MAX_STEPS},
        "num_images_per_prompt": {"minimum": 1, "maximum": MAX_IMAGES_PER_PROMPT},
        "seed": {"minimum": 0, "maximum": MAX_SEED},
        # A required prompt must say something (image-to-text's optional one may be empty).
        **({"prompt": {"pattern": r"\S"}} if "prompt" in schema.get("required", []) else {}),
        "loras": {
            "description": f"A JSON object in a string: approved LoRA names and their weights, at most {MAX_LORAS} "
            f"(each weight from -{MAX_LORA_WEIGHT:g} to {MAX_LORA_WEIGHT:g}), e.g. `{LORAS_EXAMPLE}`. Each must be "
            "approved for the model's base; an unknown or unapproved one is a 400 that names it. Empty: none.",
            "examples": ["", LORAS_EXAMPLE],
        },
        "messages": {"minItems": 1},
        "max_tokens": {"minimum": 1, "maximum": MAX_LLM_TOKENS},
        "top_k": {"minimum": -1, "not": {"const": 0}, "description": "-1: no limit."},
        "stream": {"description": "true: the answer as Server-Sent Events in OpenAI's chunks, ending `data: [DONE]`."},
        # text-to-speech: what is spoken must say something, and is bounded.
        "text": {"pattern": r"\S", "maxLength": MAX_SPEECH_CHARACTERS},
        "description": {
            "maxLength": MAX_SPEAKER_DESCRIPTION_CHARACTERS,
            "description": "The speaker, for a description-conditioned model (Parler-TTS); VITS models do not read it.",
        },
        # segment-anything-2's prompts: JSON arrays as text, as Livepeer's runner takes them.
        "point_coords": {"description": "JSON, N×2: [[x, y], …], in pixels (normalize_coords true) or in [0, 1]."},
        "point_labels": {"description": "JSON, N labels: 1 a point on the object, 0 a point off it."},
        "box": {"description": "JSON, [x0, y0, x1, y1]: the object's box, top-left and bottom-right corners."},
        "mask_input": {"description": "JSON, 1×H×W low-resolution logits (an answer's logits[i] wrapped in a list)."},
        "normalize_coords": {"description": "true: coordinates are pixels of the input; false: fractions of it."},
    }
    for name, (low, high, low_open) in VALUE_RANGES.items():
        bounds[name] = {"exclusiveMinimum" if low_open else "minimum": low, "maximum": high}
    for name, field_bounds in bounds.items():
        field = schema["properties"].get(name)
        if field is not None:
            # `int | None` is an anyOf: the bounds belong to its number branch.
            target = next((branch for branch in field.get("anyOf", []) if branch.get("type") != "null"), field)
            target.update(field_bounds)
    messages = schema["properties"].get("messages")
    if messages is not None:
        messages["items"]["properties"]["role"]["enum"] = list(LLM_ROLES)
    return schema


WEBHOOK_EVENTS = ["queued", "started", "progress", "completed"]


def webhook_properties(multipart: bool) -> dict[str, Any]:
    """The gateway's own request fields (gateway/webhooks.py): where to POST the job's events, and which."""
    events: dict[str, Any] = (
        {"type": "string", "description": f"Comma-separated, any of {', '.join(WEBHOOK_EVENTS)}; all when omitted."}
        if multipart
        else {
            "type": "array",
            "items": {"enum": WEBHOOK_EVENTS},
            "minItems": 1,
            "description": "The events to send; all when omitted.",
        }
    )
    return {
        "webhook": {
            "type": "string",
            "format": "uri",
            "maxLength": 2000,
            "description": "An http(s) URL to POST the job's events to, signed (Standard Webhooks). "
            "Private, loopback and link-local addresses are refused.",
        },
        "webhook_events_filter": events,
    }


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic's `$defs` put in place of their `$ref`s: a request body's schema sits inside the
    OpenAPI document, where a `#/$defs/...` reference would point at nothing."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(dict(definitions[ref.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """One Server-Sent Event as OpenAPI 3.1 describes an event stream's items: its `data` is JSON."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": kind},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        },
    }


def integers(*names: str) -> dict[str, Any]:
    return {"type": "object", "required": list(names), "properties": {name: {"type": "integer"} for name in names}}


EVENT_STREAM = {
    "responses": {
        200: {
            "description": "Server-Sent Events: `queued`, `progress`, then `result` or `error`.",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "oneOf": [
                            event(
                                "queued",
                                {
                                    "type": "object",
                                    "required": ["position", "eta_s"],
                                    "properties": {
                                        "position": {"type": "integer"},
                                        "eta_s": {"type": ["number", "null"]},
                                    },
                                },
                            ),
                            event("progress", integers("step", "total")),
                            event(
                                "result",
                                {
                                    "anyOf": [
                                        {"$ref": "#/components/schemas/Result"},
                                        {"$ref": "#/components/schemas/TextResult"},
                                        {"$ref": "#/components/schemas/LLMResult"},
                                        {"$ref": "#/components/schemas/AudioResult"},
                                        {"$ref": "#/components/schemas/MasksResult"},
                                    ]
                                },
                            ),
                            event(
                                "error",
                                {
                                    "type": "object",
                                    "required": ["detail", "status"],
                                    "properties": {
                                        "detail": {"$ref": "#/components/schemas/Message"},
                                        "status": {"type": "integer"},
                                    },
                                },
                            ),
                        ]
                    }
                }
            },
        }
    }
}
