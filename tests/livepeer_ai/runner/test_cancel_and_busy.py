"""Cancelling running jobs (POST /cancel and client disconnect) and the busy answer."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from httpx_sse import EventSource, ServerSentEvent, connect_sse
from PIL import Image

from tests.conftest import HTTP, RUNNERS, RunnerFleet, health, wait_for

pytestmark = pytest.mark.integration

STREAM_TIMEOUT = httpx.Timeout(120, connect=5)


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def form(image: bytes, **fields: Any) -> dict[str, Any]:
    return {"files": {"image": ("input.png", image, "image/png")}, "data": {k: str(v) for k, v in fields.items()}}


# Jobs that run for minutes on a CPU: they are always canceled, never awaited.
LONG_STEPS = {"text-to-image-sd15": 150, "image-to-video": 64, "upscale": 150}
LONG_JOBS: dict[str, dict[str, Any]] = {
    "text-to-image-sd15": {"json": {"prompt": "a lighthouse", "width": 512, "height": 512, "num_inference_steps": 150}},
    "image-to-video": form(png(64, 64), width=256, height=256, num_inference_steps=64, seed=1),
    "upscale": form(png(64, 64), prompt="sharp", num_inference_steps=150, seed=1),
}
SMALL_JOBS: dict[str, dict[str, Any]] = {
    "text-to-image": {"json": {"prompt": "a red cube", "width": 64, "height": 64, "num_inference_steps": 1}},
    "text-to-image-sd15": {"json": {"prompt": "a red cube", "width": 64, "height": 64, "num_inference_steps": 2}},
    "image-to-video": form(png(64, 64), width=64, height=64, num_inference_steps=1, seed=1),
    "upscale": form(png(32, 32), prompt="sharp", num_inference_steps=1, seed=1),
}
CANCELED = {"detail": {"msg": "Job canceled."}, "status": 409}


def pipeline_path(name: str) -> str:
    return f"/{RUNNERS[name][0]}"


def next_progress(events: Any) -> dict[str, int]:
    event: ServerSentEvent = next(events)
    assert event.event == "progress", (event.event, event.data)
    return dict(event.json())


def assert_ends_canceled(rest: list[ServerSentEvent], after_step: int, total: int) -> None:
    """The stream ends with one 409 error event, after progress that stopped short of the total."""
    assert rest, "the stream ended without an outcome"
    *progress, final = rest
    assert final.event == "error", (final.event, final.data)
    assert final.json() == CANCELED
    assert all(event.event == "progress" for event in progress)
    steps = [after_step, *(event.json()["step"] for event in progress)]
    assert steps == list(range(after_step, after_step + len(steps)))
    assert steps[-1] < total


@contextmanager
def long_job_stream(url: str, name: str) -> Iterator[EventSource]:
    """A long job's SSE stream; leaving the block closes the connection."""
    with (
        httpx.Client(base_url=url, timeout=STREAM_TIMEOUT) as client,
        connect_sse(client, "POST", pipeline_path(name), **LONG_JOBS[name]) as source,
    ):
        yield source


def assert_small_job_succeeds(url: str, name: str) -> None:
    response = HTTP.post(f"{url}{pipeline_path(name)}", timeout=180, **SMALL_JOBS[name])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("images") or body.get("frames"), list(body)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("text-to-image-sd15", id="text-to-image-interrupt-flag"),
        pytest.param("image-to-video", id="image-to-video-raise-from-callback"),
        pytest.param("upscale", id="upscale-legacy-callback"),
    ],
)
def test_cancel_stops_a_running_job_with_409(runners: RunnerFleet, name: str) -> None:
    url = runners.url(name)
    with long_job_stream(url, name) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = source.iter_sse()
        first = next_progress(events)
        assert first == {"step": 1, "total": LONG_STEPS[name]}
        assert health(url) == "OK"

        assert HTTP.post(f"{url}/cancel", timeout=10).json() == {"canceled": True}
        rest = list(events)

    assert_ends_canceled(rest, after_step=1, total=first["total"])
    wait_for(lambda: health(url) == "IDLE", 60, f"{name} idle after cancel")
    assert_small_job_succeeds(url, name)


def test_client_disconnect_cancels_its_job(runners: RunnerFleet) -> None:
    name = "text-to-image-sd15"
    url = runners.url(name)
    started_at = time.monotonic()
    with long_job_stream(url, name) as source:
        events = source.iter_sse()
        assert next_progress(events)["step"] == 1
        assert next_progress(events)["step"] == 2
        step_s = (time.monotonic() - started_at) / 2
        assert health(url) == "OK"
    # Leaving the block closes the connection with the stream half read.
    closed_at = time.monotonic()

    wait_for(lambda: health(url) == "IDLE", 30, "runner idle after the client went away")
    stopped_after_s = time.monotonic() - closed_at
    # The remaining 148 steps would take far longer than the job took to stop.
    assert stopped_after_s < (LONG_STEPS[name] - 2) * step_s / 4, (stopped_after_s, step_s)


def test_second_job_while_busy_gets_503(runners: RunnerFleet) -> None:
    name = "text-to-image-sd15"
    url = runners.url(name)
    with long_job_stream(url, name) as source:
        events = source.iter_sse()
        assert next_progress(events)["step"] == 1
        assert HTTP.get(f"{url}/health", timeout=5).json() == {"status": "OK"}

        busy = HTTP.post(f"{url}{pipeline_path(name)}", timeout=10, **SMALL_JOBS[name])
        assert busy.status_code == 503, busy.text
        assert "busy" in busy.json()["detail"]["msg"]
        busy_stream = HTTP.post(
            f"{url}{pipeline_path(name)}",
            timeout=10,
            headers={"Accept": "text/event-stream"},
            **SMALL_JOBS[name],
        )
        assert busy_stream.status_code == 503
        assert "busy" in busy_stream.json()["detail"]["msg"]

        # The refused requests left the running job alone.
        assert next_progress(events)["step"] == 2
        assert health(url) == "OK"
        assert HTTP.post(f"{url}/cancel", timeout=10).json() == {"canceled": True}
        rest = list(events)

    assert_ends_canceled(rest, after_step=2, total=LONG_STEPS[name])
    wait_for(lambda: health(url) == "IDLE", 60, "runner idle after cancel")


def test_cancel_with_nothing_running_returns_false(runners: RunnerFleet) -> None:
    url = runners.url("text-to-image")

    assert HTTP.post(f"{url}/cancel", timeout=10).json() == {"canceled": False}
    assert health(url) == "IDLE"
    # Nothing was left armed to cancel the next job.
    assert_small_job_succeeds(url, "text-to-image")
