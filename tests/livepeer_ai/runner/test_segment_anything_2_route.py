"""segment-anything-2 through the runner's HTTP API on the tiny SAM 2: Livepeer's MasksResponse for an
image, per-frame masks for a video, the same masks for the same input, clear refusals of bad prompts.

Answers are checked against the MasksResponse of Livepeer's runner API 0.14.1 and its request
body's defaults (ai_runner_masks_schemas.json, copied from its OpenAPI document).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from livepeer_ai.runner.schemas import SegmentAnything2Params
from tests.conftest import HTTP
from tests.livepeer_ai.runner.test_pipelines_http import png, sse_events
from tests.livepeer_ai.runner.test_text_routes import assert_matches, schema_errors

LIVEPEER = json.loads((Path(__file__).parent / "ai_runner_masks_schemas.json").read_text())["components"]["schemas"]
MASKS_RESPONSE = LIVEPEER["MasksResponse"]
# The tiny SAM 2's square input is 128 px: its low-resolution masks are a quarter of that.
LOW_RES = 32
WIDTH, HEIGHT = 64, 48


def gif(frames: int = 4, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    images = []
    for index in range(frames):
        image = Image.new("RGB", (width, height), (20, 20, 20))
        x = 4 + index * 6
        image.paste((240, 200, 40), (x, 10, x + 16, 30))  # a square moving right
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def segment(url: str, media: bytes = b"", filename: str = "in.png", **fields: str) -> httpx.Response:
    upload = media or png(WIDTH, HEIGHT)
    return HTTP.post(f"{url}/segment-anything-2", data=fields, files={"image": (filename, upload)}, timeout=120)


def arrays(body: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    # Livepeer writes each array as Python's text of a nested list of floats: JSON, for finite values.
    return json.loads(body["masks"]), json.loads(body["scores"]), json.loads(body["logits"])


def shape(value: Any) -> tuple[int, ...]:
    return (len(value), *shape(value[0])) if isinstance(value, list) else ()


@pytest.fixture(scope="module")
def runner(runners: Any) -> str:
    return str(runners.url("segment-anything-2"))


def test_the_masks_schema_check_can_fail():
    assert schema_errors({"masks": "[]", "scores": "[]"}, MASKS_RESPONSE)
    assert schema_errors({"masks": [[0.5]], "scores": "[]", "logits": "[]"}, MASKS_RESPONSE)
    assert not schema_errors({"masks": "[]", "scores": "[]", "logits": "[]"}, MASKS_RESPONSE)


def test_the_fields_and_defaults_are_livepeers():
    body = LIVEPEER["Body_genSegmentAnything2"]["properties"]
    ours = SegmentAnything2Params.model_fields
    assert set(body) - {"image"} == set(ours)
    for name, field in body.items():
        if "default" in field:
            assert ours[name].default == field["default"], name


def test_an_image_answers_three_masks_at_its_size_by_descending_score(runner):
    response = segment(runner, point_coords="[[20, 16], [40, 30]]", point_labels="[1, 0]")
    assert response.status_code == 200, response.text
    body = response.json()
    assert not schema_errors(body, MASKS_RESPONSE)
    masks, scores, logits = arrays(body)
    assert shape(masks) == (3, HEIGHT, WIDTH)
    assert shape(logits) == (3, LOW_RES, LOW_RES)
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    # return_logits (Livepeer's default): un-thresholded logits, not 0/1.
    assert {value for row in masks[0] for value in row} - {0.0, 1.0}


def test_one_mask_thresholded_from_a_box_in_fractions(runner):
    response = segment(
        runner, box="[0.1, 0.2, 0.6, 0.9]", normalize_coords="false", multimask_output="false", return_logits="false"
    )
    assert response.status_code == 200, response.text
    masks, scores, logits = arrays(response.json())
    assert shape(masks) == (1, HEIGHT, WIDTH) and len(scores) == 1 and shape(logits) == (1, LOW_RES, LOW_RES)
    assert {value for row in masks[0] for value in row} <= {0.0, 1.0}


def test_an_answers_logits_feed_back_as_mask_input(runner):
    first = segment(runner, point_coords="[[30, 20]]", point_labels="[1]").json()
    logits = json.loads(first["logits"])
    again = segment(runner, point_coords="[[30, 20]]", point_labels="[1]", mask_input=json.dumps([logits[0]]))
    assert again.status_code == 200, again.text
    assert again.json()["masks"] != first["masks"]  # the mask prompt changes the answer


def test_the_same_input_gives_the_same_masks_and_another_prompt_others(runner):
    fields = {"point_coords": "[[12, 12]]", "point_labels": "[1]"}
    answers = [segment(runner, **fields).json() for _ in range(2)]
    assert answers[0] == answers[1]
    other = segment(runner, point_coords="[[50, 40]]", point_labels="[1]").json()
    assert other["masks"] != answers[0]["masks"]


def test_a_video_is_followed_from_its_first_frame_with_a_progress_step_per_frame(runner):
    events = sse_events(
        f"{runner}/segment-anything-2",
        data={"point_coords": "[[12, 20]]", "point_labels": "[1]", "return_logits": "false"},
        files={"image": ("in.gif", gif(frames=4))},
    )
    assert [body for kind, body in events if kind == "progress"] == [{"step": n, "total": 4} for n in (1, 2, 3, 4)]
    kind, body = events[-1]
    assert kind == "result"
    assert not schema_errors(body, MASKS_RESPONSE)
    assert body["frames"] == 4
    masks, scores, logits = arrays(body)
    assert shape(masks) == (4, 1, HEIGHT, WIDTH)
    assert shape(scores) == (4, 1) and all(0.0 <= s[0] <= 1.0 for s in scores)
    assert shape(logits) == (4, 1, LOW_RES, LOW_RES)
    assert {value for frame in masks for row in frame[0] for value in row} <= {0.0, 1.0}


def test_a_video_prompted_by_a_box_answers_the_same_masks_each_time(runner):
    answers = [segment(runner, gif(frames=3), "in.gif", box="[4, 8, 30, 40]").json() for _ in range(2)]
    assert answers[0]["frames"] == 3
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("fields", "upload", "status", "message"),
    [
        ({"point_coords": "[[10, 10]", "point_labels": "[1]"}, None, 400, "point_coords must be a JSON array"),
        ({"point_coords": "[[10, 10, 3]]", "point_labels": "[1]"}, None, 400, "N×2 array"),
        ({"point_coords": "[[10, 10], [20, 20]]", "point_labels": "[1]"}, None, 400, "2 points but point_labels has 1"),
        ({"point_coords": "[[10, 10]]"}, None, 400, "point_labels is required"),
        ({"point_labels": "[1]"}, None, 400, "without point_coords"),
        ({"point_coords": "[[10, 10]]", "point_labels": "[5]"}, None, 400, "1 (foreground) and 0 (background)"),
        ({"point_coords": "[[10, 99]]", "point_labels": "[1]"}, None, 400, "outside the 64x48 input"),
        ({"point_coords": "[[0.2, 1.5]]", "point_labels": "[1]", "normalize_coords": "false"}, None, 400, "[0, 1]"),
        ({"box": "[1, 2, 3]"}, None, 400, "box must be 4 numbers"),
        ({"box": "[30, 2, 3, 40]"}, None, 400, "x0 <= x1"),
        ({"mask_input": "[[1, 2], [3, 4]]"}, None, 400, "1×H×W"),
        ({"mask_input": "[[[1, 2], [3]]]"}, None, 400, "rows must all be 2 numbers"),
        ({"multimask_output": "maybe"}, None, 422, "multimask_output"),
        ({"model_id": "someone/else"}, None, 400, "someone/else"),
        ({}, ("a.png", b""), 415, "not a supported image"),
        ({}, ("a.txt", b"plain text, not a picture"), 415, "not a supported image"),
        ({}, ("big.png", png(600, 20)), 400, "up to 512 px a side"),
        ({"mask_input": "[[[0.5]]]"}, ("in.gif", gif()), 400, "mask_input is for images"),
        ({}, ("in.gif", gif()), 400, "A video needs a prompt"),
    ],
    ids=[
        "coords not JSON",
        "coords not Nx2",
        "lengths differ",
        "labels missing",
        "coords missing",
        "label not 0 or 1",
        "point off the image",
        "fraction over 1",
        "box of 3",
        "box inverted",
        "mask not 1xHxW",
        "mask ragged",
        "bool not a bool",
        "another model",
        "empty upload",
        "not an image",
        "over the side limit",
        "video with a mask",
        "video without a prompt",
    ],
)
def test_bad_input_is_refused_clearly_and_the_runner_stays_healthy(runners, runner, fields, upload, status, message):
    filename, media = upload or ("in.png", png(WIDTH, HEIGHT))
    response = HTTP.post(f"{runner}/segment-anything-2", data=fields, files={"image": (filename, media)}, timeout=60)
    assert response.status_code == status, response.text
    assert_matches(response.json(), "HTTPValidationError" if status == 422 else "HTTPError")
    assert message in response.text
    assert runners.url("segment-anything-2") == runner  # still up, loaded and idle


def test_a_form_without_its_image_is_a_422(runner):
    response = HTTP.post(
        f"{runner}/segment-anything-2", data={"box": "[1, 1, 5, 5]"}, files={"video": ("in.gif", gif())}, timeout=30
    )
    assert response.status_code == 422, response.text
    assert_matches(response.json(), "HTTPValidationError")
