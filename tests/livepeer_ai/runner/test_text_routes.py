"""image-to-text and audio-to-text through the runner's HTTP API, on the tiny BLIP and Whisper.

Responses are checked against the schemas of Livepeer's runner API 0.14.1
(ai_runner_text_schemas.json, copied from its OpenAPI document).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audio_samples import encode_audio, encode_silent_video
from tests.conftest import HTTP
from tests.livepeer_ai.runner.test_pipelines_http import png, sse_events

SCHEMAS = json.loads((Path(__file__).parent / "ai_runner_text_schemas.json").read_text())["components"]["schemas"]
TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float), "boolean": bool}


def schema_errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """What in `value` breaks the OpenAPI schema: the keywords these schemas use ($ref, type, required, items)."""
    if "$ref" in schema:
        return schema_errors(value, SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], where)
    if "anyOf" in schema:
        return [] if any(not schema_errors(value, s, where) for s in schema["anyOf"]) else [f"{where}: no anyOf"]
    expected = TYPES.get(schema.get("type", ""), object)
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        return [f"{where}: {value!r} is not {schema.get('type')}"]
    errors = [f"{where}: {name} is required" for name in schema.get("required", []) if name not in value]
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                errors += schema_errors(value[name], sub, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{where}[{index}]")
    return errors


def assert_matches(body: Any, schema_name: str) -> None:
    errors = schema_errors(body, {"$ref": f"#/components/schemas/{schema_name}"})
    assert not errors, errors


def test_the_schema_check_can_fail():
    assert schema_errors({"text": "x", "chunks": [{"timestamp": [0, 1]}]}, {"$ref": "#/TextResponse"})
    assert schema_errors({"chunks": []}, {"$ref": "#/TextResponse"})
    assert schema_errors({"detail": "oops"}, {"$ref": "#/HTTPError"})


def post_audio(url: str, audio: bytes, filename: str = "a.wav", **fields: str) -> httpx.Response:
    return HTTP.post(f"{url}/audio-to-text", data=fields, files={"audio": (filename, audio)}, timeout=180)


def test_image_to_text_answers_a_caption_that_starts_with_the_prompt(text_runners):
    url = text_runners.url("image-to-text")
    plain = HTTP.post(f"{url}/image-to-text", files={"image": ("in.png", png())}, timeout=120)
    assert plain.status_code == 200, plain.text
    assert_matches(plain.json(), "ImageToTextResponse")
    assert plain.json()["text"].strip()
    prompted = HTTP.post(
        f"{url}/image-to-text", data={"prompt": "a photo of"}, files={"image": ("in.png", png())}, timeout=120
    )
    assert prompted.status_code == 200, prompted.text
    # BLIP continues the prompt (conditional captioning).
    assert prompted.json()["text"].startswith("a photo of")


@pytest.mark.parametrize(
    ("request_kwargs", "status", "schema"),
    [
        ({"files": {"image": ("a.png", b"")}}, 415, "HTTPError"),
        ({"files": {"image": ("a.wav", encode_audio(0.5))}}, 415, "HTTPError"),
        ({"data": {"prompt": "no image"}, "files": {"other": ("x.txt", b"x")}}, 422, "HTTPValidationError"),
        ({"data": {"model_id": "someone/else"}, "files": {"image": ("a.png", png())}}, 400, "HTTPError"),
    ],
    ids=["empty", "not an image", "no image", "another model"],
)
def test_image_to_text_refuses_bad_input_clearly(text_runners, request_kwargs, status, schema):
    url = text_runners.url("image-to-text")
    response = HTTP.post(f"{url}/image-to-text", timeout=60, **request_kwargs)
    assert response.status_code == status, response.text
    assert_matches(response.json(), schema)
    assert text_runners.url("image-to-text")  # still healthy and idle


@pytest.mark.parametrize("mode", ["true", "word", "false"])
def test_audio_to_text_answers_livepeer_text_response(text_runners, mode):
    response = post_audio(text_runners.url("audio-to-text"), encode_audio(3.0, "mp3"), "a.mp3", return_timestamps=mode)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, "TextResponse")
    if mode == "false":
        assert body["chunks"] == []
    for chunk in body["chunks"]:
        start, end = chunk["timestamp"]
        # Timestamps stay inside the audio, in order, whatever the model predicts.
        assert 0.0 <= start <= end <= 3.1


def test_long_audio_is_transcribed_in_30_second_windows_with_a_progress_event_each(text_runners):
    url = text_runners.url("audio-to-text")
    events = sse_events(
        f"{url}/audio-to-text", data={"return_timestamps": "true"}, files={"audio": ("a.ogg", encode_audio(35, "ogg"))}
    )
    progress = [body for kind, body in events if kind == "progress"]
    assert progress == [{"step": 1, "total": 2}, {"step": 2, "total": 2}]
    kind, result = events[-1]
    assert kind == "result"
    assert_matches(result, "TextResponse")
    assert all(0.0 <= c["timestamp"][0] <= c["timestamp"][1] <= 35.1 for c in result["chunks"])


@pytest.mark.parametrize(
    ("request_kwargs", "status", "schema", "message"),
    [
        ({"files": {"audio": ("a.wav", b"")}}, 415, "HTTPError", "empty"),
        ({"files": {"audio": ("a.png", png())}}, 415, "HTTPError", "not supported audio"),
        ({"files": {"audio": ("a.mp4", encode_silent_video())}}, 415, "HTTPError", "no audio track"),
        ({"files": {"audio": ("a.ogg", encode_audio(601, "ogg", silent=True, rate=8000))}}, 413, "HTTPError", "600 s"),
        (
            {"data": {"return_timestamps": "segment"}, "files": {"audio": ("a.wav", encode_audio(0.5))}},
            400,
            "HTTPError",
            "return_timestamps",
        ),
        (
            {"data": {"metadata": "[1]"}, "files": {"audio": ("a.wav", encode_audio(0.5))}},
            400,
            "HTTPError",
            "metadata",
        ),
        (
            {"data": {"return_timestamps": "true"}, "files": {"other": ("x.txt", b"x")}},
            422,
            "HTTPValidationError",
            "Field required",
        ),
    ],
    ids=["empty", "an image", "video without audio", "too long", "bad timestamps mode", "bad metadata", "no audio"],
)
def test_audio_to_text_refuses_bad_input_clearly(text_runners, request_kwargs, status, schema, message):
    url = text_runners.url("audio-to-text")
    response = HTTP.post(f"{url}/audio-to-text", timeout=60, **request_kwargs)
    assert response.status_code == status, response.text
    assert_matches(response.json(), schema)
    assert message in response.text
    assert text_runners.url("audio-to-text")  # still healthy and idle
