"""Stages dispatched across two real orchestrator nodes, each with its own real runner."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from livepeer_ai.gateway import engine, workflow
from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, Orchestrator, StageAttempt
from tests.conftest import HTTP, PYTHON, free_port, orchestrator_node, spawn, wait_for

SMALL = {"width": 64, "height": 64, "text_to_image_steps": 2, "image_to_video_steps": 2}


@pytest.fixture
def two_nodes(runners: Any, gateway_settings: Any, tmp_path: Any) -> Iterator[tuple[str, str]]:
    """Node A (cheap) and node B (dear), each selling its own text-to-image and image-to-video runner."""
    with ExitStack() as stack:
        a = stack.enter_context(
            orchestrator_node(
                {"text-to-image": runners.url("text-to-image"), "image-to-video": runners.url("image-to-video")},
                tmp_path / "a",
                price_per_unit=1,
            )
        )
        b = stack.enter_context(
            orchestrator_node(
                {"text-to-image": runners.url("text-to-image-b"), "image-to-video": runners.url("image-to-video-b")},
                tmp_path / "b",
                price_per_unit=100,
            )
        )
        gateway_settings.ORCHESTRATOR_URLS = [a, b]
        yield a, b


def make_job(**overrides: Any) -> Job:
    job = workflow.create_gif_job("dispatch", seed=1)
    job.parameters.update({**SMALL, **overrides})
    job.save()
    return job


def nodes_used(job: Job, outcome: str = AttemptOutcome.SUCCEEDED) -> list[str]:
    return [
        a.orchestrator.service_uri for a in StageAttempt.objects.filter(job=job, outcome=outcome).order_by("started_at")
    ]


def occupy(node_url: str) -> tuple[Any, Any]:
    """Hold the node's only text-to-image slot with a long streamed job.

    Returns the open stream and its line iterator: both must stay referenced, since
    a line iterator that is garbage-collected closes the connection (and so the job).
    """
    stream = HTTP.stream(
        "POST",
        f"{node_url}/text-to-image",
        headers={"Accept": "text/event-stream"},
        timeout=120,
        json={"prompt": "hold", "width": 512, "height": 512, "num_inference_steps": 150},
    )
    lines = stream.__enter__().iter_lines()
    for line in lines:
        if line.startswith("event: "):
            assert line == "event: progress"
            break
    return stream, lines


@pytest.mark.django_db
def test_busy_node_is_skipped(two_nodes):
    a, b = two_nodes
    hold, _lines = occupy(a)
    assert HTTP.get(f"{a}/info", timeout=5).json()["capabilities"][0]["in_use"] == 1
    try:
        job = make_job()
        job.stages = ["text-to-image"]
        job.save()
        engine.run_job(str(job.id))
    finally:
        hold.__exit__(None, None, None)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert nodes_used(job) == [b]
    # Nothing was even tried on the busy node, and nothing failed.
    assert not StageAttempt.objects.filter(job=job).exclude(outcome=AttemptOutcome.SUCCEEDED).exists()


@pytest.mark.django_db
def test_suspended_node_is_skipped(two_nodes):
    a, b = two_nodes
    Orchestrator.objects.update_or_create(service_uri=a, defaults={"suspended_until": timezone.now() + timedelta(60)})
    job = make_job()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert nodes_used(job) == [b, b]


@pytest.mark.django_db
def test_price_cap_is_respected(two_nodes, gateway_settings):
    a, b = two_nodes
    gateway_settings.MAX_PRICE_PER_UNIT = 50  # A asks 1, B asks 100 wei per pixel
    jobs = [make_job() for _ in range(3)]
    for job in jobs:
        engine.run_job(str(job.id))
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error_message
        assert set(nodes_used(job)) == {a}


@pytest.mark.django_db
def test_nothing_under_the_price_cap_fails_with_the_reason_after_the_wait(two_nodes, gateway_settings):
    gateway_settings.MAX_PRICE_PER_UNIT = 1
    gateway_settings.MAX_PRICE_PIXELS_PER_UNIT = 2  # 0.5 wei per pixel: below both nodes
    gateway_settings.QUEUE_MAX_WAIT_S = 1
    job = make_job()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "No orchestrator could take text-to-image" in job.error_message
    assert not StageAttempt.objects.filter(job=job).exists()


@pytest.mark.django_db
def test_fallback_provider_takes_the_job_after_the_maximum_wait(runners, gateway_settings):
    gateway_settings.ORCHESTRATOR_URLS = []
    gateway_settings.QUEUE_MAX_WAIT_S = 1
    gateway_settings.FALLBACK_PROVIDER_URL = runners.url("text-to-image")
    job = make_job()
    job.stages = ["text-to-image"]
    job.save()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    fallback = StageAttempt.objects.get(job=job)
    assert fallback.orchestrator is None
    assert (fallback.outcome, fallback.message) == (AttemptOutcome.SUCCEEDED, "fallback provider")


@pytest.mark.django_db
def test_caller_error_is_not_retried(two_nodes):
    job = make_job(width=60)
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "runner_400"
    attempts = list(StageAttempt.objects.filter(job=job))
    assert [a.outcome for a in attempts] == [AttemptOutcome.REJECTED]
    assert not Orchestrator.objects.filter(suspended_until__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_saturated_network_queues_jobs_and_completes_every_one(two_nodes):
    jobs = [make_job(image_to_video_steps=6) for _ in range(5)]
    for job in jobs:
        Job.objects.filter(id=job.id).update(status=JobStatus.QUEUED)
    positions: set[int] = set()
    stop = threading.Event()

    def watch_queue() -> None:
        while not stop.is_set():
            for job in Job.objects.filter(id__in=[j.id for j in jobs]):
                if job.queue_position is not None:
                    positions.add(job.queue_position)
            stop.wait(0.05)

    watcher = threading.Thread(target=watch_queue)
    drivers = [threading.Thread(target=engine.run_job, args=[str(job.id)]) for job in jobs]
    watcher.start()
    for driver in drivers:
        driver.start()
    for driver in drivers:
        driver.join(timeout=300)
    stop.set()
    watcher.join()
    assert not any(driver.is_alive() for driver in drivers)
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error_message
        assert job.queue_position is None and job.waiting_for == ""
    # Five jobs, two slots per capability: some had to wait, first in first out.
    assert 1 in positions
    assert not StageAttempt.objects.filter(outcome=AttemptOutcome.FAILED).exists()


def start_orchestrator_process(stack_env: dict[str, str], runner_url: str, tmp_path: Any, name: str) -> Any:
    port = free_port()
    config = tmp_path / f"{name}.toml"
    config.write_text(f"""
[node]
name = "{name}"
port = {port}
private_key_env = "KILL_TEST_KEY"
health_interval_s = 1
[[capabilities]]
pipeline = "image-to-video"
model_id = "livepeer-ai/tiny-svd-xt"
runners = [{{ url = "{runner_url}" }}]
""")
    env = {**stack_env, "KILL_TEST_KEY": "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"}
    process = spawn(name, [PYTHON, "manage.py", "run_orchestrator", "--config", str(config)], env, tmp_path)
    process.url = f"http://127.0.0.1:{port}"
    wait_for(
        lambda: HTTP.get(f"{process.url}/info", timeout=2).json()["capabilities"][0]["capacity"] == 1,
        60,
        f"{name} ready\n{process.log_tail()}",
    )
    return process


@pytest.mark.django_db(transaction=True)
def test_killing_an_orchestrator_mid_job_completes_the_job_on_another(runners, stack_env, gateway_settings, tmp_path):
    nodes = [
        start_orchestrator_process(stack_env, runners.url(name), tmp_path, f"node-{i}")
        for i, name in enumerate(["image-to-video", "image-to-video-b"])
    ]
    try:
        gateway_settings.ORCHESTRATOR_URLS = [n.url for n in nodes]
        job = make_job(image_to_video_steps=40, width=128, height=128)
        source = Image.new("RGB", (128, 128), (200, 50, 50))
        buffer = io.BytesIO()
        source.save(buffer, format="PNG")
        job.stages = ["image-to-video"]
        job.outputs = {
            "text-to-image": {
                "image": default_storage.save(f"jobs/{job.id}/image.png", ContentFile(buffer.getvalue())),
                "seed": 1,
            }
        }
        job.save()
        driver = threading.Thread(target=engine.run_job, args=[str(job.id)])
        driver.start()
        wait_for(lambda: Job.objects.filter(id=job.id, step__gte=2).exists(), 120, "first node to make progress")
        first = StageAttempt.objects.get(job=job).orchestrator.service_uri
        victim = next(n for n in nodes if n.url == first)
        victim.proc.kill()
        driver.join(timeout=180)
        assert not driver.is_alive()
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error_message
        survivor = next(n.url for n in nodes if n is not victim)
        assert nodes_used(job, AttemptOutcome.FAILED) == [first]
        assert nodes_used(job) == [survivor]
        # Suspended for 5 s after its first failure in a row (that may be over by now).
        dead = Orchestrator.objects.get(service_uri=first)
        assert dead.failures_in_row == 1
        assert dead.suspended_until is not None and dead.last_error
        assert default_storage.exists(job.outputs["image-to-video"]["gif"])
    finally:
        for node in nodes:
            node.stop()
