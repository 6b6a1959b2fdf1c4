"""The public API (/api/v1/) end to end: real runners behind a real orchestrator node, a real engine."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
from django.core.management import call_command
from PIL import Image

from livepeer_ai.gateway.models import ApiKey, Job, JobStatus
from tests.conftest import engine_running, orchestrator_node, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def api_network(runners: Any, settings: Any, tmp_path: Any, names: tuple[str, ...], sync_s: int) -> Iterator[None]:
    """A node selling the named runners, an engine, and the API waiting up to `sync_s` for a job."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    settings.API_SYNC_TIMEOUT_S = sync_s
    with orchestrator_node({name: runners.url(name) for name in names}, tmp_path / "logs") as node_url:
        settings.ORCHESTRATOR_URLS = [node_url]
        with engine_running():
            yield


@pytest.fixture
def network(runners: Any, settings: Any, tmp_path: Any, approved_models: Any) -> Iterator[None]:
    with api_network(runners, settings, tmp_path, ("text-to-image", "image-to-video"), 120):
        yield


@pytest.fixture
def key() -> str:
    return ApiKey.issue("tests")[1]


def auth(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post_json(client: Any, path: str, body: Any, key: str, **headers: str) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json", **auth(key), **headers)


def png(width: int = 64, height: int = 64) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "in.png"
    return buffer


SMALL = {"prompt": "api", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 11}


def assert_documented(client: Any, method: str, route: str, response: Any) -> None:
    """The answer's status is in the OpenAPI document for this route, and its JSON body matches the schema given."""
    document = client.get("/api/v1/openapi.json").json()
    responses = document["paths"][route][method]["responses"]
    documented = responses.get(str(response.status_code)) or responses["default"]
    schema = documented["content"]["application/json"]["schema"]
    jsonschema_rs.validate({**schema, "components": document["components"]}, response.json())


def test_requests_without_a_valid_key_are_401(client, network):
    assert (
        client.post("/api/v1/text-to-image", data=json.dumps(SMALL), content_type="application/json").status_code == 401
    )
    response = post_json(client, "/api/v1/text-to-image", SMALL, "lpai_wrong")
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]["msg"]
    revoked, revoked_key = ApiKey.issue("old")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked=True)
    assert post_json(client, "/api/v1/text-to-image", SMALL, revoked_key).status_code == 401
    assert not Job.objects.exists()


def test_synchronous_text_to_image_returns_the_runner_shape_with_fetchable_urls(client, network, key):
    response = post_json(client, "/api/v1/text-to-image", {**SMALL, "num_images_per_prompt": 2}, key)
    assert response.status_code == 200, response.content
    assert_documented(client, "post", "/api/v1/text-to-image", response)
    images = response.json()["images"]
    assert [i["seed"] for i in images] == [11, 12]
    assert all(i["nsfw"] is False for i in images)
    url = images[0]["url"]
    assert url.startswith("http://testserver/media/jobs/")
    fetched = client.get(url.removeprefix("http://testserver"))
    assert fetched.status_code == 200
    assert Image.open(io.BytesIO(b"".join(fetched.streaming_content))).size == (64, 64)


def test_protocol_defaults_apply_to_omitted_fields(client, network, key):
    response = post_json(client, "/api/v1/text-to-image", {"prompt": "defaults", "num_inference_steps": 1}, key)
    assert response.status_code == 200, response.content
    url = response.json()["images"][0]["url"].removeprefix("http://testserver")
    image = Image.open(io.BytesIO(b"".join(client.get(url).streaming_content)))
    assert image.size == (1024, 576)  # docs/protocol.md §1.2 width/height defaults
    assert 0 <= response.json()["images"][0]["seed"] <= 2**32 - 1


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({"prompt": ""}, 400, "prompt must not be empty"),
        ({"width": 64}, 422, ["body", "prompt"]),
        ({"prompt": "x", "width": 63}, 400, "multiple of 8"),
        ({"prompt": "x", "num_inference_steps": 151}, 400, "between 1 and 150"),
        ({"prompt": "x", "width": "wide"}, 422, ["body", "width"]),
        ({"prompt": "x", "model_id": "nobody/unknown"}, 400, "not available"),
    ],
    ids=["empty-prompt", "missing-prompt", "width-63", "steps-151", "width-not-int", "unknown-model"],
)
def test_bad_requests_get_the_runner_error_shapes(client, network, key, body, status, expected):
    response = post_json(client, "/api/v1/text-to-image", body, key)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert_documented(client, "post", "/api/v1/text-to-image", response)
    if status == 422:
        assert expected in [item["loc"] for item in detail]
        assert all({"loc", "msg", "type"} <= set(item) for item in detail)
    else:
        assert expected in detail["msg"]
    assert not Job.objects.exists()


def test_multipart_routes_refuse_missing_and_non_image_uploads(client, network, key):
    missing = client.post("/api/v1/image-to-video", {"width": "64"}, **auth(key))
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "image"]
    text = io.BytesIO(b"not an image at all")
    text.name = "notes.txt"
    refused = client.post("/api/v1/image-to-video", {"image": text}, **auth(key))
    assert refused.status_code == 415
    assert "not a supported image" in refused.json()["detail"]["msg"]


def test_async_request_is_202_then_pollable_and_private(client, network, key):
    response = post_json(client, "/api/v1/text-to-image", SMALL, key, HTTP_PREFER="respond-async")
    assert response.status_code == 202
    assert_documented(client, "post", "/api/v1/text-to-image", response)
    request_id = response.json()["request_id"]
    assert response["Location"] == f"http://testserver/api/v1/jobs/{request_id}"

    def finished() -> dict[str, Any] | None:
        state = client.get(f"/api/v1/jobs/{request_id}", **auth(key)).json()
        return state if state["status"] in {"succeeded", "failed"} else None

    state = wait_for(finished, 60, "async job to finish")
    assert state["status"] == "succeeded"
    assert_documented(client, "get", "/api/v1/jobs/{job_id}", client.get(f"/api/v1/jobs/{request_id}", **auth(key)))
    assert state["result"]["images"][0]["seed"] == 11
    assert state["total_steps"] == 2
    other = ApiKey.issue("someone else")[1]
    assert client.get(f"/api/v1/jobs/{request_id}", **auth(other)).status_code == 404


def test_event_stream_reports_every_step_then_the_result(client, network, key):
    request_id = post_json(
        client, "/api/v1/text-to-image", {**SMALL, "num_inference_steps": 4}, key, HTTP_PREFER="respond-async"
    ).json()["request_id"]
    response = client.get(f"/api/v1/jobs/{request_id}/events", **auth(key))
    assert response["Content-Type"] == "text/event-stream"
    text = b"".join(response).decode()
    events = [(block.split("\n")[0][7:], json.loads(block.split("\n")[1][6:])) for block in text.strip().split("\n\n")]
    assert events[-1][0] == "result"
    steps = [body["step"] for kind, body in events if kind == "progress"]
    assert steps == sorted(steps) and steps[-1] == 4
    assert events[-1][1]["images"][0]["seed"] == 11


def test_image_to_video_returns_the_mp4_as_images_url_and_a_gif(client, network, key):
    response = client.post(
        "/api/v1/image-to-video",
        {"image": png(), "width": "64", "height": "64", "num_inference_steps": "2", "seed": "4"},
        **auth(key),
    )
    assert response.status_code == 200, response.content
    assert_documented(client, "post", "/api/v1/image-to-video", response)
    body = response.json()
    assert urlsplit(body["images"][0]["url"]).path.endswith("video.mp4")
    assert body["images"][0]["seed"] == 4
    gif = b"".join(client.get(body["gif"]["url"].removeprefix("http://testserver")).streaming_content)
    assert gif[:6] in {b"GIF87a", b"GIF89a"}


def test_cancel_stops_an_async_job(client, network, key, runners):
    request_id = post_json(
        client,
        "/api/v1/text-to-image",
        {**SMALL, "width": 512, "height": 512, "num_inference_steps": 150},
        key,
        HTTP_PREFER="respond-async",
    ).json()["request_id"]
    wait_for(lambda: Job.objects.get(id=request_id).step >= 1, 60, "job to start")
    canceled = client.post(f"/api/v1/jobs/{request_id}/cancel", **auth(key))
    assert_documented(client, "post", "/api/v1/jobs/{job_id}/cancel", canceled)
    state = canceled.json()
    assert state["status"] == "canceled"
    wait_for(lambda: client.get(f"/api/v1/jobs/{request_id}", **auth(key)).json()["status"] == "canceled", 10, "")
    job = Job.objects.get(id=request_id)
    assert job.status == JobStatus.CANCELED and job.step < 150


def test_openapi_document_lists_the_runner_routes(client, network):
    document = client.get("/api/v1/openapi.json").json()
    for route in ["/api/v1/text-to-image", "/api/v1/image-to-video", "/api/v1/jobs/{job_id}"]:
        assert route in document["paths"]
    t2i = document["paths"]["/api/v1/text-to-image"]["post"]
    assert t2i["operationId"] == "genTextToImage"
    schema = t2i["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["height"]["default"] == 576
    assert schema["properties"]["num_inference_steps"]["default"] == 50


def test_admin_shows_a_new_api_key_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post("/admin/gateway/apikey/add/", {"name": "partner"}, follow=True)
    message = next(str(m) for m in response.context["messages"])
    key = message.split("partner: ")[1].split(" ")[0]
    stored = ApiKey.objects.get(name="partner")
    assert stored.key_hash == ApiKey.digest(key) and key not in stored.key_hash
    assert ApiKey.authenticate(key) == stored
    call_command("check")


@pytest.mark.parametrize(
    ("code", "status"),
    [("runner_402", 402), ("no_orchestrator", 503), ("model_not_approved", 403), ("model_unknown", 400), ("x", 500)],
)
def test_a_failed_jobs_status_says_whose_failure_it_was(code, status):
    from livepeer_ai.gateway.api import status_of
    from livepeer_ai.gateway.models import Job

    assert status_of(Job(error_code=code)) == status
