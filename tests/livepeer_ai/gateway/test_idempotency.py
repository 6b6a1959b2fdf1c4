"""Submissions are safe to retry: an Idempotency-Key makes one job, whatever happens to Redis meanwhile."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from livepeer_ai.gateway import idempotency
from livepeer_ai.gateway.models import ApiKey, Job, JobStatus
from livepeer_ai.gateway.workflow import create_api_job
from tests.conftest import (
    engine_running,
    free_port,
    orchestrator_node,
    redis_server_binary,
    spawn,
    wait_for,
)

SMALL = {"prompt": "retry me", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 5}
ASYNC = {"HTTP_PREFER": "respond-async"}


def post(client: Any, key: str, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}", **ASYNC}
    if idempotency_key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return client.post("/api/v1/text-to-image", data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def key(db: Any) -> str:
    return ApiKey.issue("retrying client")[1]


@pytest.fixture
def redis_then_outage(tmp_path: Any, settings: Any) -> Iterator[Any]:
    """A private Redis the gateway uses; the test kills it (SIGKILL) to make the outage."""
    port = free_port()
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = spawn("redis-outage", args, dict(os.environ), tmp_path)
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(lambda: redis.Redis.from_url(settings.REDIS_URL).ping(), 20, f"redis\n{process.log_tail()}")
        yield process
    finally:
        process.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_retry_with_the_same_key_during_a_redis_outage_makes_one_job_and_it_runs(
    client, key, runners, settings, tmp_path, approved_models, redis_then_outage
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    with orchestrator_node({"text-to-image": runners.url("text-to-image")}, tmp_path / "logs") as node_url:
        settings.ORCHESTRATOR_URLS = [node_url]
        with engine_running():
            redis_then_outage.proc.send_signal(signal.SIGKILL)
            redis_then_outage.proc.wait(timeout=10)
            first = post(client, key, SMALL, "order-42")
            # The client never saw that answer, and sends the same request again.
            retry = post(client, key, SMALL, "order-42")
            assert (first.status_code, retry.status_code) == (202, 202), (first.content, retry.content)
            assert retry.json() == first.json()
            assert Job.objects.count() == 1
            # No wake-up reached the engine (Redis is down): its one-second tick finds the job.
            job = Job.objects.get()
            wait_for(lambda: Job.objects.get(id=job.id).is_finished, 60, "the job to run without Redis")
    assert Job.objects.get(id=job.id).status == JobStatus.SUCCEEDED
    assert str(job.id) == first.json()["request_id"]


@pytest.mark.django_db
def test_the_same_key_for_another_request_is_refused_and_makes_no_job(client, key, approved_models):
    first = post(client, key, SMALL, "k-1")
    assert first.status_code == 202
    other = post(client, key, {**SMALL, "prompt": "something else"}, "k-1")
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]["msg"]
    assert Job.objects.count() == 1
    # The same fields in another order and spacing are the same request.
    reordered = dict(reversed(list(SMALL.items())))
    again = post(client, key, reordered, "k-1")
    assert (again.status_code, again.json()) == (202, first.json())


@pytest.mark.django_db
def test_keys_belong_to_one_api_key_and_requests_without_one_each_make_a_job(client, key, approved_models):
    other_key = ApiKey.issue("another client")[1]
    mine = post(client, key, SMALL, "shared-name").json()["request_id"]
    theirs = post(client, other_key, SMALL, "shared-name").json()["request_id"]
    assert mine != theirs
    post(client, key, SMALL)
    post(client, key, SMALL)
    assert Job.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["", "x" * 256, "tab\there"])
def test_a_malformed_key_is_a_400_and_makes_no_job(client, key, approved_models, bad):
    response = post(client, key, SMALL, bad)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]["msg"]
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_retries_racing_each_other_get_the_one_job_the_constraint_lets_through(approved_models):
    api_key, _ = ApiKey.issue("racer")
    fields = {"prompt": "race", "model_id": "livepeer-ai/tiny-sdxl-turbo"}
    digest = idempotency.request_digest("text-to-image", fields, None)
    winner: list[Job] = []

    def create() -> Job:
        # The other retry commits its job between this one's look-up and its insert.
        winner.append(
            create_api_job("text-to-image", fields, None, api_key, idempotency_key="race", request_digest=digest)
        )
        return create_api_job("text-to-image", fields, None, api_key, idempotency_key="race", request_digest=digest)

    assert idempotency.once(api_key, "race", digest, create) == winner[0]
    assert Job.objects.count() == 1
