"""Bad input to the public API: each gets a 4xx in the API's one JSON error shape, never a 500, and no job.

No network is needed: every request here is refused before a job would exist.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from livepeer_ai.gateway.models import ApiKey, Job
from tests.livepeer_ai.pipelines.test_media_bounds import big_canvas_gif

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(gateway_settings: Any) -> str:
    # Should a request be let through after all, it answers 202 at once rather than wait for a node.
    gateway_settings.API_SYNC_TIMEOUT_S = 0
    return ApiKey.issue("bounds")[1]


def auth(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post_raw(client: Any, path: str, raw: str | bytes, key: str, content_type: str = "application/json") -> Any:
    return client.post(path, data=raw, content_type=content_type, **auth(key))


def png(size: tuple[int, int] = (64, 64)) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "in.png"
    return buffer


def gif(size: tuple[int, int]) -> io.BytesIO:
    buffer = io.BytesIO()
    first, second = Image.new("RGB", size, (0, 0, 0)), Image.new("RGB", size, (255, 255, 255))
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    buffer.seek(0)
    buffer.name = "in.gif"
    return buffer


def assert_error(response: Any, status: int, words: str) -> None:
    """The API's error shape, {"detail": {"msg": ...}}, with `words` in the message."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    assert words in response.json()["detail"]["msg"]


def assert_invalid(response: Any, kind: str, loc: list[str]) -> None:
    """422 in FastAPI's item shape, with an item of this type at this location."""
    assert response.status_code == 422, response.content[:500]
    items = response.json()["detail"]
    assert all(set(item) == {"loc", "msg", "type"} for item in items)
    assert (kind, loc) in [(item["type"], item["loc"]) for item in items], items


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/jobs/not-a-uuid"),
        ("post", "/api/v1/jobs/1/cancel"),
        ("get", "/api/v1/jobs/'%20OR%201=1/events"),
    ],
    ids=["status", "cancel", "events"],
)
def test_job_routes_refuse_an_id_that_is_not_a_uuid(client, key, method, path):
    response = getattr(client, method)(path, **auth(key))
    assert_invalid(response, "uuid_parsing", ["path", "job_id"])


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("NaN", "finite_number"),
        ("Infinity", "finite_number"),
        ("-Infinity", "finite_number"),
        ("1e999", "finite_number"),
    ],
)
def test_json_numbers_must_be_finite(client, key, number, kind):
    raw = '{"prompt": "x", "guidance_scale": NUMBER}'.replace("NUMBER", number)
    assert_invalid(post_raw(client, "/api/v1/text-to-image", raw, key), kind, ["body"])
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("pipeline", "field"), [("image-to-image", "guidance_scale"), ("image-to-video", "noise_aug_strength")]
)
@pytest.mark.parametrize("number", ["nan", "inf", "-Infinity"])
def test_form_numbers_must_be_finite(client, key, pipeline, field, number):
    fields = {"image": png(), field: number, "prompt": "x"}
    response = client.post(f"/api/v1/{pipeline}", fields, **auth(key))
    assert_invalid(response, "finite_number", ["body", field])
    assert not Job.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("seed", False), ("width", "64"), ("safety_check", 1), ("prompt", 5)])
def test_json_fields_must_have_the_documented_type(client, key, field, value):
    """A seed of `false` was taken as seed 0: JSON has types, and the OpenAPI document gives them."""
    raw = json.dumps({"prompt": "x", "num_inference_steps": 1, field: value})
    response = post_raw(client, "/api/v1/text-to-image", raw, key)
    assert response.status_code == 422, response.content
    assert ["body", field] in [item["loc"] for item in response.json()["detail"]]
    assert not Job.objects.exists()


def test_a_lone_surrogate_in_a_prompt_is_refused(client, key):
    raw = '{"prompt": "a cat \\ud800"}'  # valid JSON, but no text that UTF-8 can carry
    assert_invalid(post_raw(client, "/api/v1/text-to-image", raw, key), "string_unicode", ["body"])
    assert not Job.objects.exists()


def test_json_nested_past_the_limit_is_refused_before_parsing(client, key):
    raw = '{"prompt": "x", "loras": ' + "[" * 33 + "]" * 33 + "}"
    assert_invalid(post_raw(client, "/api/v1/text-to-image", raw, key), "json_too_deep", ["body"])


def test_a_3_mb_json_body_is_413_in_the_api_shape(client, key):
    raw = json.dumps({"prompt": "x" * (3 * 1024 * 1024)})
    assert_error(post_raw(client, "/api/v1/text-to-image", raw, key), 413, "at most 1024 KiB")


def test_form_text_fields_over_djangos_limit_are_413_in_the_api_shape(client, key):
    response = client.post("/api/v1/image-to-image", {"image": png(), "prompt": "x" * (3 * 1024 * 1024)}, **auth(key))
    assert_error(response, 413, "text fields are over")


def test_too_many_form_fields_is_400_in_the_api_shape(client, key):
    fields = {f"f{i}": "1" for i in range(1001)}
    response = client.post("/api/v1/image-to-image", {"image": png(), **fields}, **auth(key))
    assert_error(response, 400, "Malformed multipart body")


@pytest.mark.parametrize(
    ("pipeline", "content_type"),
    [
        ("text-to-image", "text/plain"),
        ("text-to-image", "application/x-www-form-urlencoded"),
        ("upscale", "application/json"),
    ],
)
def test_a_body_of_the_wrong_type_is_415(client, key, pipeline, content_type):
    raw = json.dumps({"prompt": "x", "num_inference_steps": 1})
    assert_error(post_raw(client, f"/api/v1/{pipeline}", raw, key, content_type), 415, "Send")
    assert not Job.objects.exists()


def test_unknown_routes_and_wrong_methods_answer_in_the_api_shape(client, key):
    assert_error(client.get("/api/v1/no-such-pipeline", **auth(key)), 404, "No such route")
    wrong_method = client.get("/api/v1/text-to-image", **auth(key))
    assert_error(wrong_method, 405, "GET is not allowed")
    assert wrong_method["Allow"] == "POST"


def test_django_refusals_outside_the_api_keep_their_own_shape(client, key):
    assert client.get("/no-such-page/").status_code == 404
    assert not client.get("/no-such-page/")["Content-Type"].startswith("application/json")


def test_a_small_gif_of_many_big_frames_is_413_before_any_job(client, key):
    video = io.BytesIO(big_canvas_gif())
    video.name = "clip.gif"
    response = client.post("/api/v1/frame-interpolation", {"video": video, "multiplier": "2"}, **auth(key))
    assert_error(response, 413, "100 frames of 2048x2048")
    assert not Job.objects.exists()


# Inputs each pipeline's model cannot run on: accepted, they failed in the runner (500 "pipeline error"
# for image-to-video and frame interpolation), after the job was queued and paid for.
TOO_SMALL = [
    ("image-to-video", {"image": png((1, 1))}, "needs at least 2 px a side"),
    ("image-to-video", {"image": png((1, 64))}, "needs at least 2 px a side"),
    ("image-to-video", {"image": png(), "width": "8", "height": "8"}, "width x height over 64 px"),
    ("image-to-image", {"image": png((7, 64)), "prompt": "x"}, "needs at least 8 px a side"),
    ("upscale", {"image": png((3, 3)), "prompt": "x"}, "needs at least 4 px a side"),
    ("frame-interpolation", {"video": gif((10, 10))}, "and 12 px along one of them"),
    ("frame-interpolation", {"video": gif((7, 64))}, "needs at least 8 px a side"),
]


@pytest.mark.parametrize(
    ("pipeline", "fields", "words"),
    TOO_SMALL,
    ids=["i2v-1px", "i2v-1px-wide", "i2v-8x8", "i2i-7px", "upscale-3px", "interp-10px", "interp-7px"],
)
def test_inputs_too_small_for_the_model_are_refused_before_a_job_exists(client, key, pipeline, fields, words):
    response = client.post(f"/api/v1/{pipeline}", fields, **auth(key))
    assert_error(response, 400, words)
    assert not Job.objects.exists()


def test_image_to_image_steps_that_strength_leaves_none_of_are_refused_before_a_job_exists(client, key):
    fields = {"image": png(), "prompt": "x", "model_id": "livepeer-ai/tiny-sd15", "strength": "0.01"}
    response = client.post("/api/v1/image-to-image", {**fields, "num_inference_steps": "1"}, **auth(key))
    assert_error(response, 400, "num_inference_steps x strength must be at least 1")
    assert not Job.objects.exists()


def test_a_nul_character_in_a_field_is_refused_before_any_job(client, key):
    """PostgreSQL cannot store U+0000: a prompt with one was a 500 there, from JSON and from forms alike."""
    raw = json.dumps({"prompt": "a\u0000b"})
    assert_invalid(post_raw(client, "/api/v1/text-to-image", raw, key), "string_unicode", ["body"])
    response = client.post("/api/v1/image-to-image", {"image": png(), "prompt": "a\x00b"}, **auth(key))
    assert_invalid(response, "string_unicode", ["body", "prompt"])
    assert not Job.objects.exists()
