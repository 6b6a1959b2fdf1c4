"""/api/v1/segment-anything-2 through the network: Livepeer's MasksResponse as the runner wrote it (kept as
a file beside the job), a video's per-frame masks billed every frame, bad prompts refused before any job."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from livepeer_ai.gateway.models import ApiKey, Job, JobStatus, StageAttempt
from tests.livepeer_ai.gateway.test_api import api_network, assert_documented, auth
from tests.livepeer_ai.runner.test_pipelines_http import png
from tests.livepeer_ai.runner.test_segment_anything_2_route import gif

pytestmark = pytest.mark.django_db(transaction=True)
ROUTE = "/api/v1/segment-anything-2"


@pytest.fixture
def network(runners: Any, settings: Any, tmp_path: Any, approved_models: Any) -> Iterator[None]:
    with api_network(runners, settings, tmp_path, ("segment-anything-2",), 120):
        yield


@pytest.fixture
def key() -> str:
    return ApiKey.issue("masks tests")[1]


def upload(raw: bytes, name: str) -> io.BytesIO:
    buffer = io.BytesIO(raw)
    buffer.name = name
    return buffer


def test_an_image_answers_the_runners_masks_response_now_and_later(client, network, key):
    form = {"image": upload(png(40, 30), "in.png"), "point_coords": "[[10, 12]]", "point_labels": "[1]"}
    response = client.post(ROUTE, form, **auth(key))
    assert response.status_code == 200, response.content
    assert_documented(client, "post", ROUTE, response)
    body = response.json()
    masks = json.loads(body["masks"])
    assert (len(masks), len(masks[0]), len(masks[0][0])) == (3, 30, 40)
    assert "frames" not in body
    job = Job.objects.get()
    # The answer lives in a file the job names, not in its row.
    assert set(job.outputs["segment-anything-2"]) == {"masks_file"}
    later = client.get(f"/api/v1/jobs/{job.id}", **auth(key))
    assert later.status_code == 200 and later.json()["result"] == body
    assert_documented(client, "get", "/api/v1/jobs/{job_id}", later)
    assert StageAttempt.objects.get().units == 40 * 30


def test_a_video_answers_masks_per_frame_and_bills_every_frame(client, network, key):
    form = {"image": upload(gif(frames=3, width=32, height=24), "in.gif"), "box": "[2, 2, 20, 20]"}
    response = client.post(ROUTE, form, **auth(key))
    assert response.status_code == 200, response.content
    assert_documented(client, "post", ROUTE, response)
    body = response.json()
    assert body["frames"] == 3
    assert len(json.loads(body["masks"])) == 3
    job = Job.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.total_steps == 3
    assert (job.parameters["input_size"], job.parameters["input_frames"]) == ([32, 24], 3)
    assert StageAttempt.objects.get().units == 32 * 24 * 3


@pytest.mark.parametrize(
    ("fields", "media", "status", "message"),
    [
        ({"point_coords": "ten, ten", "point_labels": "[1]"}, None, 400, "point_coords must be a JSON array"),
        ({"point_coords": "[[10, 10]]", "point_labels": "[1, 0]"}, None, 400, "1 points but point_labels has 2"),
        ({"box": "[0, 0, 50, 10]"}, None, 400, "outside the 40x30 input"),
        ({}, ("notes.txt", b"no picture here"), 415, "not a supported image"),
        ({}, ("in.gif", gif(frames=3)), 400, "A video needs a prompt"),
    ],
    ids=["coords not JSON", "lengths differ", "box off the image", "not an image", "video without a prompt"],
)
def test_bad_input_is_refused_before_any_job(client, approved_models, settings, key, fields, media, status, message):
    settings.API_SYNC_TIMEOUT_S = 1  # no node here: a job let through would wait for nothing
    name, raw = media or ("in.png", png(40, 30))
    response = client.post(ROUTE, {"image": upload(raw, name), **fields}, **auth(key))
    assert response.status_code == status, response.content
    assert message in response.json()["detail"]["msg"]
    assert not Job.objects.exists()


def test_the_openapi_document_gives_livepeers_fields_and_the_masks_result(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"][ROUTE]["post"]
    assert operation["operationId"] == "genSegmentAnything2"
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"image", "point_coords", "point_labels", "box", "mask_input"} <= set(schema["properties"])
    assert "image" in schema["required"]
    assert [schema["properties"][name]["default"] for name in ("multimask_output", "return_logits")] == [True, True]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/MasksResult")
