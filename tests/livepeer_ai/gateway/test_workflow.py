"""The GIF workflow driven against real runner processes (tiny models)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.storage import default_storage
from PIL import Image

from livepeer_ai.gateway import dispatch, engine, workflow
from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.progress import job_group
from livepeer_ai.pipelines.previews import is_preview
from tests.conftest import free_port, health, orchestrator_node, wait_for

SMALL = {"width": 64, "height": 64, "text_to_image_steps": 2, "image_to_video_steps": 3}


@pytest.fixture
def stage_runners(runners: Any, settings: Any, tmp_path: Any, approved_models: Any) -> Iterator[dict[str, str]]:
    """One orchestrator node selling the session's text-to-image and image-to-video runners."""
    urls = {"text-to-image": runners.url("text-to-image"), "image-to-video": runners.url("image-to-video")}
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    with orchestrator_node(urls, tmp_path / "logs") as node_url:
        settings.ORCHESTRATOR_URLS = [node_url]
        yield urls


@pytest.fixture
def job_messages() -> Iterator[Any]:
    """Collects what the job's Channels group receives."""
    layer = get_channel_layer()
    listeners: dict[str, str] = {}

    def listen(job: Job) -> None:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(job_group(job.id), channel)
        listeners[str(job.id)] = channel

    def drain(job: Job) -> list[dict[str, Any]]:
        channel = listeners[str(job.id)]
        received = []

        async def receive_all() -> None:
            import asyncio

            while True:
                try:
                    received.append(await asyncio.wait_for(layer.receive(channel), 0.2))
                except TimeoutError:
                    return

        async_to_sync(receive_all)()
        return received

    listen.drain = drain  # type: ignore[attr-defined]
    yield listen


def make_job(prompt: str = "a robot", seed: int | None = 5, **overrides: Any) -> Job:
    job = workflow.create_gif_job(prompt, seed=seed)
    job.parameters.update({**SMALL, **overrides})
    job.save()
    return job


@pytest.mark.django_db
def test_gif_job_runs_both_stages_and_stores_the_outputs(stage_runners):
    job = make_job()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.finished_at is not None
    assert job.outputs["text-to-image"]["seed"] == 5
    first_frame = Image.open(default_storage.open(job.outputs["text-to-image"]["image"]))
    assert first_frame.size == (64, 64)
    gif = Image.open(io.BytesIO(default_storage.open(job.outputs["image-to-video"]["gif"]).read()))
    assert gif.format == "GIF"
    assert gif.n_frames == 8
    assert default_storage.open(job.outputs["image-to-video"]["mp4"]).read()[4:8] == b"ftyp"


@pytest.mark.django_db
def test_each_stage_records_what_the_safety_checker_said(stage_runners):
    job = make_job()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    # The tiny models ship no checker: nothing flagged, and nothing claimed to be checked.
    for stage in job.stages:
        assert (job.outputs[stage]["nsfw"], job.outputs[stage]["nsfw_checked"]) == (False, False)


# Transactional: the last message is sent once the job's end is committed.
@pytest.mark.django_db(transaction=True)
def test_every_step_of_every_stage_is_published(stage_runners, job_messages):
    job = make_job()
    job_messages(job)
    engine.run_job(str(job.id))
    messages = job_messages.drain(job)
    assert all(m["type"] == "job.updated" and m["job_id"] == str(job.id) for m in messages)
    video_steps = [
        m["snapshot"]["step"]
        for m in messages
        if m["snapshot"]["status"] == "running" and m["snapshot"]["stage_index"] == 1 and m["snapshot"]["step"]
    ]
    assert video_steps == [1, 2, 3]
    image_steps = [
        m["snapshot"]["step"] for m in messages if m["snapshot"]["stage_index"] == 0 and m["snapshot"]["step"]
    ]
    assert image_steps == [1, 2]
    assert messages[-1]["snapshot"]["status"] == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_the_runners_previews_reach_the_watchers_with_their_step_and_are_not_stored(stage_runners, job_messages):
    job = make_job(text_to_image_steps=6, image_to_video_steps=4)
    job_messages(job)
    engine.run_job(str(job.id))
    messages = job_messages.drain(job)
    previews = [
        (m["snapshot"]["stage_index"], m["snapshot"]["preview"]) for m in messages if "preview" in m["snapshot"]
    ]
    # The first frame's and the video's: each stage sends its first due preview at least.
    assert {stage for stage, _ in previews} == {0, 1}, [m["snapshot"] for m in messages]
    assert all(is_preview(preview) for _, preview in previews)
    assert all(m["snapshot"]["status"] == "running" for m in messages if "preview" in m["snapshot"])
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert "data:image/jpeg" not in json.dumps([job.parameters, job.outputs, job.stages], default=str)


@pytest.mark.django_db
def test_runner_rejection_fails_the_job_with_its_message(stage_runners):
    job = make_job(width=60)
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "runner_400"
    assert "multiple of 8" in job.error_message


@pytest.mark.django_db
def test_unreachable_network_fails_the_job_with_the_reason(stage_runners, settings):
    settings.ORCHESTRATOR_URLS = [f"http://127.0.0.1:{free_port()}"]
    settings.QUEUE_MAX_WAIT_S = 1
    job = make_job()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "runner_503"
    assert "No orchestrator could take text-to-image livepeer-ai/tiny-sdxl-turbo" in job.error_message


@pytest.mark.django_db
def test_finished_job_is_not_run_again(stage_runners):
    job = make_job()
    Job.objects.filter(id=job.id).update(status=JobStatus.CANCELED)
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.outputs == {}


@pytest.mark.django_db(transaction=True)
def test_canceling_the_job_stops_the_running_stage(stage_runners):
    # Enough video steps that the stage is still running when we cancel.
    job = make_job(image_to_video_steps=60, width=128, height=128)
    driver = threading.Thread(target=engine.run_job, args=[str(job.id)])
    driver.start()
    wait_for(lambda: Job.objects.filter(id=job.id, stage_index=1, step__gte=1).exists(), 60, "video stage to start")
    Job.objects.filter(id=job.id).update(status=JobStatus.CANCELED)
    driver.join(timeout=60)
    assert not driver.is_alive()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.step < 60
    assert "gif" not in job.outputs.get("image-to-video", {})
    # Leaving the stream made the runner stop its work and free its slot.
    wait_for(lambda: health(stage_runners["image-to-video"]) == "IDLE", 20, "runner to stop the canceled job")


@pytest.fixture
def chain_nodes(runners: Any, settings: Any, tmp_path: Any, approved_models: Any) -> Iterator[dict[str, str]]:
    """Two nodes that split the chain: each stage's node differs from the one before it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    first = {"text-to-image": runners.url("text-to-image"), "upscale": runners.url("upscale")}
    second = {
        "image-to-video": runners.url("image-to-video"),
        "frame-interpolation": runners.url("frame-interpolation"),
    }
    with (
        orchestrator_node(first, tmp_path / "logs-1") as first_url,
        orchestrator_node(second, tmp_path / "logs-2") as second_url,
    ):
        settings.ORCHESTRATOR_URLS = [first_url, second_url]
        yield {"first": first_url, "second": second_url}


def gif_frames(job: Job, stage: str) -> list[Image.Image]:
    gif = Image.open(io.BytesIO(default_storage.open(job.outputs[stage]["gif"]).read()))
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(gif.convert("RGB"))
    return frames


@pytest.mark.django_db
def test_full_chain_feeds_each_stage_into_the_next_across_nodes(chain_nodes, job_messages):
    job = workflow.create_gif_job("a comet", seed=3, upscale=True, interpolate=True)
    job.parameters.update(
        {"width": 128, "height": 128, "text_to_image_steps": 2, "image_to_video_steps": 2, "upscale_steps": 2}
    )
    job.save()
    job_messages(job)
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.stages == ["text-to-image", "image-to-video", "upscale", "frame-interpolation"]

    # Generated at a quarter of the size, upscaled ×4 frame by frame, then interpolated.
    assert Image.open(default_storage.open(job.outputs["text-to-image"]["image"])).size == (32, 32)
    assert [f.size for f in gif_frames(job, "image-to-video")] == [(32, 32)] * 8
    assert [f.size for f in gif_frames(job, "upscale")] == [(128, 128)] * 8
    assert len(job.outputs["upscale"]["frames"]) == 8
    final = gif_frames(job, "frame-interpolation")
    assert [f.size for f in final] == [(128, 128)] * 15  # (8 - 1) × 2 + 1
    assert job.outputs["frame-interpolation"]["fps"] == 12
    assert job.final_output_url("gif").endswith("frame-interpolation/video.gif")
    assert default_storage.open(job.outputs["frame-interpolation"]["mp4"]).read()[4:8] == b"ftyp"

    # Each stage ran where its capability is sold: every stage on another node than the one before.
    nodes = {
        stage: set(
            job.attempts.filter(stage=stage, outcome="succeeded").values_list("orchestrator__service_uri", flat=True)
        )
        for stage in job.stages
    }
    assert nodes == {
        "text-to-image": {chain_nodes["first"]},
        "image-to-video": {chain_nodes["second"]},
        "upscale": {chain_nodes["first"]},
        "frame-interpolation": {chain_nodes["second"]},
    }
    assert job.attempts.filter(stage="upscale", outcome="succeeded").count() == 8
    assert all(job.outputs[stage]["nsfw_checked"] is False for stage in job.stages)

    # The upscale stage's progress runs over all its frames: 8 frames × 2 steps, never backwards.
    upscale_steps = [
        (m["snapshot"]["step"], m["snapshot"]["total_steps"])
        for m in job_messages.drain(job)
        if m["snapshot"]["status"] == "running" and m["snapshot"]["stage_index"] == 2 and m["snapshot"]["step"]
    ]
    assert upscale_steps == [(step, 16) for step in range(1, 17)]


@pytest.mark.django_db
def test_redriven_upscale_stage_resumes_at_the_first_frame_not_done(chain_nodes, monkeypatch):
    job = workflow.create_gif_job("resume", seed=4, upscale=True)
    job.parameters.update(
        {"width": 128, "height": 128, "text_to_image_steps": 1, "image_to_video_steps": 1, "upscale_steps": 1}
    )
    job.save()
    # Which threads store results (the engine's one DB thread) and which make the upscaled GIF.
    storing, encoding = set(), set()
    succeeded, encode_gif = dispatch.succeeded, workflow.encode_gif
    monkeypatch.setattr(dispatch, "succeeded", lambda *a: storing.add(threading.get_ident()) or succeeded(*a))
    monkeypatch.setattr(workflow, "encode_gif", lambda *a: encoding.add(threading.get_ident()) or encode_gif(*a))
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    # The upscaled video's GIF was made, and not on the thread every stage's DB work waits for.
    assert encoding and storing and not encoding & storing
    kept = job.outputs["upscale"]["frames"][:5]
    # As if the worker had died after five frames: the sweep re-drives it from the row.
    job.outputs["upscale"] = {"frames": kept}
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, stage_index=2, outputs=job.outputs, finished_at=None)
    before = job.attempts.filter(stage="upscale").count()
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.attempts.filter(stage="upscale").count() - before == 3
    assert job.outputs["upscale"]["frames"][:5] == kept
    assert len(gif_frames(job, "upscale")) == 8
