"""Curation decides routing: a model that is not approved is refused by the gateway with a clear
error, fails a queued job at dispatch instead of being sent, and stops being advertised and sold
by orchestrators within one registry refresh (and comes back when approved again).

A real node (reading the registry as `run_orchestrator` does) in front of a real runner.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from livepeer_ai.gateway import engine, workflow
from livepeer_ai.gateway.models import ApiKey, Job, JobStatus, QueuedStage, StageAttempt
from livepeer_ai.orchestrator.payment import OffchainPayments
from livepeer_ai.registry import curation
from livepeer_ai.registry.models import ModelEntry
from tests.conftest import HTTP, orchestrator_node, wait_for
from tests.livepeer_ai.gateway.test_dispatch import occupy

pytestmark = pytest.mark.django_db(transaction=True)

T2I = ("text-to-image", "livepeer-ai/tiny-sdxl-turbo")
REFRESH_S = 0.2
DISABLED_MSG = (
    "Model 'livepeer-ai/tiny-sdxl-turbo' for text-to-image has been disabled by the network's curators; it cannot run."
)


@pytest.fixture
def node_payments() -> OffchainPayments:
    return OffchainPayments()


@pytest.fixture
def curated_node(runners: Any, gateway_settings: Any, tmp_path: Any, node_payments: OffchainPayments) -> Iterator[str]:
    with orchestrator_node(
        {"text-to-image": runners.url("text-to-image")},
        tmp_path / "node",
        payments=node_payments,
        registry_refresh_s=REFRESH_S,
    ) as url:
        gateway_settings.ORCHESTRATOR_URLS = [url]
        yield url


def t2i_entry() -> ModelEntry:
    return ModelEntry.objects.get(pipeline=T2I[0], model_id=T2I[1])


def advertised(node_url: str) -> set[tuple[str, str]]:
    return {(c["pipeline"], c["model_id"]) for c in HTTP.get(f"{node_url}/info", timeout=5).json()["capabilities"]}


def api_post(client: Any, key: str, body: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/text-to-image",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_PREFER="respond-async",
    )


def test_the_api_refuses_a_model_that_is_not_approved_before_creating_a_job(client, gateway_settings, personas):
    key = ApiKey.issue("curation")[1]
    curation.disable(t2i_entry(), personas.admin, note="broken weights")
    for body in ({"prompt": "x", "model_id": T2I[1]}, {"prompt": "x"}):  # named, and the default model
        response = api_post(client, key, body)
        assert response.status_code == 403
        assert response.json() == {"detail": {"msg": DISABLED_MSG}}
    proposed = curation.propose(
        personas.operator, {"pipeline": "text-to-image", "model_id": "op/new", "family": "sd15"}
    )
    pending = api_post(client, key, {"prompt": "x", "model_id": "op/new"})
    assert pending.status_code == 403 and "awaiting approval" in pending.json()["detail"]["msg"]
    assert not Job.objects.exists()

    curation.approve(t2i_entry(), personas.admin)
    curation.approve(proposed, personas.admin)
    assert api_post(client, key, {"prompt": "x"}).status_code == 202
    assert api_post(client, key, {"prompt": "x", "model_id": "op/new"}).status_code == 202
    assert Job.objects.count() == 2 and QueuedStage.objects.count() == 2


def test_a_queued_job_whose_model_was_disabled_fails_at_dispatch_and_nothing_is_sent(
    curated_node, personas, node_payments
):
    job = workflow.create_gif_job("disabled before dispatch", seed=1)
    curation.disable(t2i_entry(), personas.admin)
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert (job.status, job.error_code, job.error_message) == (JobStatus.FAILED, "model_not_approved", DISABLED_MSG)
    assert not StageAttempt.objects.filter(job=job).exists()
    assert node_payments.processed == 0


def test_a_job_waiting_in_the_queue_fails_when_its_model_is_disabled(curated_node, personas, gateway_settings):
    job = workflow.create_gif_job("waits, then its model is disabled", seed=1)
    job.parameters.update(width=64, height=64, text_to_image_steps=2)
    job.save()
    hold, _lines = occupy(curated_node)
    try:
        driver = threading.Thread(target=engine.run_job, args=[str(job.id)])
        driver.start()
        wait_for(lambda: Job.objects.get(id=job.id).queue_position == 1, 30, "the job to wait in the queue")
        curation.disable(t2i_entry(), personas.admin, note="pulled while jobs waited")
        driver.join(timeout=30)
    finally:
        hold.__exit__(None, None, None)
    assert not driver.is_alive()
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "model_not_approved")
    assert job.queue_position is None
    assert not StageAttempt.objects.filter(job=job).exists()


def test_a_node_stops_advertising_a_disabled_model_within_one_refresh_and_resumes_when_approved(curated_node, personas):
    assert advertised(curated_node) == {T2I}
    curation.disable(t2i_entry(), personas.admin)
    wait_for(lambda: advertised(curated_node) == set(), 5 * REFRESH_S + 2, "the node to stop advertising it")
    curation.approve(t2i_entry(), personas.admin)
    wait_for(lambda: advertised(curated_node) == {T2I}, 5 * REFRESH_S + 2, "the node to advertise it again")


def test_a_node_refuses_a_job_for_a_model_not_approved_before_touching_payment(curated_node, personas, node_payments):
    curation.disable(t2i_entry(), personas.admin)
    wait_for(lambda: advertised(curated_node) == set(), 5 * REFRESH_S + 2, "the node to see the change")
    job = {"prompt": "x", "model_id": T2I[1], "width": 64, "height": 64, "num_inference_steps": 1}
    response = HTTP.post(f"{curated_node}/text-to-image", json=job, timeout=10)
    assert response.status_code == 403
    assert response.json()["detail"]["msg"] == (
        "This node does not sell text-to-image 'livepeer-ai/tiny-sdxl-turbo': the network has not approved it."
    )
    params = HTTP.get(
        f"{curated_node}/ticket-params",
        params={"sender": "0x" + "11" * 20, "pipeline": T2I[0], "model_id": T2I[1]},
        timeout=10,
    )
    assert params.status_code == 403
    assert (node_payments.processed, node_payments.charged_wei) == (0, {})


def test_an_approved_model_runs_end_to_end_through_a_curated_node(curated_node):
    job = workflow.create_gif_job("approved", seed=1)
    job.parameters.update(width=64, height=64, text_to_image_steps=2)
    job.stages = ["text-to-image"]
    job.save()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
