"""The gateway's GET /metrics after real jobs through a real node: requests, errors by code, latency, jobs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from livepeer_ai.gateway import engine, workflow
from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, Orchestrator, QueuedStage, StageAttempt
from livepeer_ai.payments.models import OrchestratorCredit
from livepeer_ai.registry import curation
from livepeer_ai.registry.models import ModelEntry
from tests.conftest import orchestrator_node

pytestmark = pytest.mark.django_db

T2I = {"pipeline": "text-to-image", "model_name": "livepeer-ai/tiny-sdxl-turbo"}


@pytest.fixture
def node(runners: Any, gateway_settings: Any, tmp_path: Any) -> Iterator[str]:
    with orchestrator_node({"text-to-image": runners.url("text-to-image")}, tmp_path / "node") as url:
        gateway_settings.ORCHESTRATOR_URLS = [url]
        yield url


SCRAPE_TOKEN = "s3cret-scrape"


@pytest.fixture(autouse=True)
def scrape_token(settings: Any) -> None:
    settings.METRICS_TOKEN = SCRAPE_TOKEN


def scrape(client: Any, **headers: str) -> dict[str, Any]:
    response = client.get("/metrics", **{"HTTP_AUTHORIZATION": f"Bearer {SCRAPE_TOKEN}", **headers})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict[str, Any], family: str, sample: str | None = None, **labels: str) -> float | None:
    for s in families[family].samples:
        if s.name == (sample or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    return None


def t2i_job(**parameters: Any) -> Job:
    job = workflow.create_gif_job("metrics", seed=3)
    job.parameters.update({"width": 64, "height": 64, "text_to_image_steps": 2, **parameters})
    job.stages = ["text-to-image"]
    job.save()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    return job


def test_metrics_count_requests_errors_latency_and_jobs_after_real_jobs(client, node, personas):
    assert [t2i_job().status for _ in range(2)] == [JobStatus.SUCCEEDED] * 2
    assert t2i_job(width=60).error_code == "runner_400"  # the runner refuses it: not a multiple of 8
    curation.disable(ModelEntry.objects.get(pipeline="text-to-image", model_id=T2I["model_name"]), personas.admin)
    assert t2i_job().error_code == "model_not_approved"  # refused before anything was sent

    families = scrape(client)
    assert value(families, "livepeer_ai_models_requested", "livepeer_ai_models_requested_total", **T2I) == 3
    assert (
        value(
            families, "livepeer_ai_request_errors", "livepeer_ai_request_errors_total", **T2I, error_code="runner_400"
        )
        == 1
    )
    assert len(families["livepeer_ai_request_errors"].samples) == 1
    assert value(families, "livepeer_ai_stage_attempts", **T2I, outcome="succeeded") == 2
    assert value(families, "livepeer_ai_stage_attempts", **T2I, outcome="rejected") == 1
    last = StageAttempt.objects.filter(outcome=AttemptOutcome.SUCCEEDED).order_by("-started_at").first()
    score = value(families, "livepeer_ai_request_latency_score", **T2I)
    assert score == pytest.approx(last.took_s / (64 * 64) / 2) and score > 0
    assert value(families, "livepeer_ai_jobs", status="succeeded", error_code="") == 2
    assert value(families, "livepeer_ai_jobs", status="failed", error_code="runner_400") == 1
    assert value(families, "livepeer_ai_jobs", status="failed", error_code="model_not_approved") == 1


def test_queue_length_and_tickets_sent_come_from_the_database(client):
    job = workflow.create_gif_job("waiting")
    QueuedStage.objects.filter(job=job).update(pipeline="image-to-video", model_id="livepeer-ai/tiny-svd-xt")
    OrchestratorCredit.objects.create(sender="0xG", recipient="0xO", manifest_id="text-to-image_m", tickets_sent=7)
    families = scrape(client)
    assert (
        value(families, "livepeer_ai_queue_length", pipeline="image-to-video", model_name="livepeer-ai/tiny-svd-xt")
        == 1
    )
    assert (
        value(
            families,
            "livepeer_tickets_sent",
            "livepeer_tickets_sent_total",
            recipient="0xO",
            manifestID="text-to-image_m",
        )
        == 7
    )


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_metrics_ask_for_the_token_when_one_is_set(client, settings, debug):
    settings.DEBUG = debug
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert refused.json() == {"detail": {"msg": "Invalid bearer token."}}
    assert "livepeer_ai_jobs" in scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert client.post("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape").status_code == 405


def test_production_without_a_token_closes_metrics_to_everyone(client, settings, personas):
    settings.METRICS_TOKEN = ""
    client.force_login(personas.admin)
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_AUTHORIZATION": "Bearer anything"}):
        refused = client.get("/metrics", **headers)
        assert refused.status_code == 403
        assert "no METRICS_TOKEN" in refused.json()["detail"]["msg"]


def test_debug_without_a_token_leaves_metrics_open(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    assert "livepeer_ai_jobs" in scrape(client, HTTP_AUTHORIZATION="")


def test_a_scrape_runs_a_bounded_number_of_queries(client, django_assert_max_num_queries):
    jobs = Job.objects.bulk_create(
        Job(prompt=f"j{i}", stages=["text-to-image"], status=JobStatus.SUCCEEDED) for i in range(50)
    )
    node = Orchestrator.objects.create(service_uri="http://127.0.0.1:9")
    StageAttempt.objects.bulk_create(
        StageAttempt(
            job=job,
            orchestrator=node,
            stage="text-to-image",
            pipeline="text-to-image",
            model_id=f"m{i % 5}",
            outcome=AttemptOutcome.SUCCEEDED,
            units=4096,
            steps=2,
            took_s=0.5,
        )
        for i, job in enumerate(jobs)
    )
    with django_assert_max_num_queries(7):
        families = scrape(client)
    assert len(families["livepeer_ai_request_latency_score"].samples) == 5
