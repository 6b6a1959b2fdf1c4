"""The runner's health state machine and lifecycle: LOADING → IDLE, ERROR, auth, info."""

from __future__ import annotations

import io
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from livepeer_ai.pipelines.base import ModelSpec
from livepeer_ai.pipelines.outputs import GeneratedImage
from livepeer_ai.runner.app import RUNNER_VERSION, create_app
from tests.conftest import (
    HTTP,
    PYTHON,
    ROOT,
    free_port,
    fresh_registry,
    serve,
    start_runner,
    wait_for,
    wait_until_loaded,
)

SPEC = ModelSpec(pipeline="text-to-image", model_id="x", family="sd15", local_path="")
JOB = {"prompt": "a red cube", "width": 64, "height": 64, "num_inference_steps": 1, "seed": 5}


class TinyPipeline:
    """Stands in for a loaded model: one flat 64x64 image per call."""

    device = "cpu"

    def __call__(self, *, seed: int, on_progress: Any, **kwargs: Any) -> list[GeneratedImage]:
        on_progress(1, 1)
        return [GeneratedImage(image=Image.new("RGB", (kwargs["width"], kwargs["height"])), seed=seed)]


@pytest.fixture(autouse=True)
def no_auth_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built here run without a token unless a test sets one."""
    monkeypatch.delenv("AUTH_TOKEN", raising=False)


def tiny_loader(spec: ModelSpec, device: str | None) -> TinyPipeline:
    return TinyPipeline()


def get_health(url: str) -> dict[str, Any]:
    return dict(HTTP.get(f"{url}/health", timeout=5).json())


def test_health_is_loading_until_the_model_loads_then_idle() -> None:
    entered, release = threading.Event(), threading.Event()
    calls: list[tuple[ModelSpec, str | None]] = []

    def blocking_loader(spec: ModelSpec, device: str | None) -> TinyPipeline:
        calls.append((spec, device))
        entered.set()
        assert release.wait(timeout=60), "test never released the loader"
        return TinyPipeline()

    try:
        with serve(create_app(SPEC, loader=blocking_loader)) as url:
            wait_for(entered.is_set, 10, "the loader to be called")
            assert get_health(url) == {"status": "LOADING"}

            during_load = HTTP.post(f"{url}/text-to-image", json=JOB, timeout=10)
            assert during_load.status_code == 503, during_load.text
            assert "loading" in during_load.json()["detail"]["msg"]
            # Input is still checked while loading: a bad request is a 400, not a 503.
            bad = HTTP.post(f"{url}/text-to-image", json={**JOB, "width": 63}, timeout=10)
            assert bad.status_code == 400
            assert get_health(url) == {"status": "LOADING"}

            release.set()
            wait_for(lambda: get_health(url) == {"status": "IDLE"}, 10, "health IDLE once loaded")
            served = HTTP.post(f"{url}/text-to-image", json=JOB, timeout=30)
            assert served.status_code == 200, served.text
            assert [image["seed"] for image in served.json()["images"]] == [5]
            assert get_health(url) == {"status": "IDLE"}
    finally:
        release.set()
    assert calls == [(SPEC, None)]


def test_health_is_error_with_the_reason_when_loading_fails() -> None:
    def failing_loader(spec: ModelSpec, device: str | None) -> Any:
        raise RuntimeError("weights missing")

    with serve(create_app(SPEC, loader=failing_loader)) as url:
        body = wait_for(lambda: (h := get_health(url))["status"] == "ERROR" and h, 10, "health ERROR")
        assert set(body) == {"status", "detail"}
        assert "weights missing" in body["detail"]["msg"]

        job = HTTP.post(f"{url}/text-to-image", json=JOB, timeout=10)
        assert job.status_code == 500, job.text
        msg = job.json()["detail"]["msg"]
        assert "failed to load" in msg
        assert "weights missing" in msg
        # It stays in ERROR rather than retrying or recovering silently.
        assert get_health(url)["status"] == "ERROR"


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


# A learned frame interpolator whose file is missing: its runner imports torch but not diffusers.
CREATE_MISSING_ENTRY = """
from livepeer_ai.registry.models import ModelEntry
ModelEntry.objects.update_or_create(
    pipeline="frame-interpolation",
    model_id="test/missing",
    defaults={"family": "torchscript-interpolator", "local_path": "/nonexistent/folder"},
)
"""


@pytest.mark.integration
def test_runner_process_with_missing_weights_reports_error_and_stays_up(
    stack_env: dict[str, str], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A registry of its own, so the shared one keeps only the tiny models.
    env = {**stack_env, "DATABASE_URL": fresh_registry(tmp_path_factory, tmp_path)}
    result = manage(env, "shell", "-c", CREATE_MISSING_ENTRY)
    assert result.returncode == 0, result.stdout + result.stderr

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "runner.log"
    args = ["run_runner", "--pipeline", "frame-interpolation", "--model", "test/missing", "--port", str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen([PYTHON, "manage.py", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        body = wait_for(
            lambda: proc.poll() is None and (h := get_health(url))["status"] == "ERROR" and h,
            120,
            f"runner health ERROR\n{log_path.read_text(errors='replace')[-3000:]}",
            interval=0.25,
        )
        assert "/nonexistent/folder" in body["detail"]["msg"]

        gif = io.BytesIO()
        first, second = Image.new("RGB", (64, 64)), Image.new("RGB", (64, 64), "white")
        first.save(gif, format="GIF", save_all=True, append_images=[second])
        job = HTTP.post(
            f"{url}/frame-interpolation", files={"video": ("in.gif", gif.getvalue(), "image/gif")}, timeout=10
        )
        assert job.status_code == 500
        assert "failed to load" in job.json()["detail"]["msg"]
        assert proc.poll() is None, "the runner exited instead of reporting ERROR"
        assert get_health(url)["status"] == "ERROR"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.integration
def test_run_runner_with_unknown_model_exits_listing_known_models(stack_env: dict[str, str]) -> None:
    result = manage(stack_env, "run_runner", "--pipeline", "text-to-image", "--model", "nobody/nothing")

    assert result.returncode != 0
    assert "No registry entry for text-to-image 'nobody/nothing'" in result.stderr
    assert "livepeer-ai/tiny-sd15" in result.stderr
    assert "livepeer-ai/tiny-sdxl-turbo" in result.stderr


def test_auth_token_guards_everything_but_health(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TOKEN", "s3cret-token")
    app = create_app(SPEC, loader=tiny_loader)
    good = {"Authorization": "Bearer s3cret-token"}

    with serve(app) as url:
        assert HTTP.get(f"{url}/health", timeout=5).status_code == 200
        wait_for(lambda: get_health(url) == {"status": "IDLE"}, 10, "health IDLE")

        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            refused = HTTP.get(f"{url}/hardware/info", headers=headers, timeout=30)
            assert refused.status_code == 401, (headers, refused.text)
            assert refused.json() == {"detail": {"msg": "Invalid bearer token."}}
        job = HTTP.post(f"{url}/text-to-image", json=JOB, timeout=10)
        assert job.status_code == 401
        assert HTTP.post(f"{url}/cancel", timeout=10).status_code == 401

        info = HTTP.get(f"{url}/hardware/info", headers=good, timeout=60)
        assert info.status_code == 200, info.text
        assert info.json()["model_id"] == "x"
        assert HTTP.get(f"{url}/version", headers=good, timeout=10).status_code == 200
        served = HTTP.post(f"{url}/text-to-image", json=JOB, headers=good, timeout=30)
        assert served.status_code == 200, served.text


def test_no_auth_token_means_no_token_needed() -> None:
    with serve(create_app(SPEC, loader=tiny_loader)) as url:
        assert HTTP.get(f"{url}/version", timeout=10).status_code == 200


@pytest.mark.integration
def test_a_fresh_runner_process_loads_serves_and_reports_hardware_and_version(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    # Started as the product starts a runner (a new `manage.py run_runner`), not forked from the
    # suite's warm parent (tests/zygote.py): the one diffusers runner in the suite that imports and
    # configures its libraries itself.
    import torch

    runner = start_runner("fresh", "text-to-image", "livepeer-ai/tiny-sdxl-turbo", stack_env, tmp_path)
    try:
        url = runner.url
        wait_until_loaded(runner)
        assert runner.proc.poll() is None, runner.log_tail()

        info = HTTP.get(f"{url}/hardware/info", timeout=30).json()
        assert info["pipeline"] == "text-to-image"
        assert info["model_id"] == "livepeer-ai/tiny-sdxl-turbo"
        assert isinstance(info["gpu_info"], dict)
        if not torch.cuda.is_available():
            assert info["gpu_info"] == {}
            assert info["device"] == "cpu"

        version = HTTP.get(f"{url}/version", timeout=10).json()
        assert version == {
            "pipeline": "text-to-image",
            "model_id": "livepeer-ai/tiny-sdxl-turbo",
            "version": RUNNER_VERSION,
        }
        job = {"prompt": "a fresh start", "width": 64, "height": 64, "num_inference_steps": 1, "seed": 1}
        made = HTTP.post(f"{url}/text-to-image", json=job, timeout=120)
        assert made.status_code == 200 and made.json()["images"][0]["seed"] == 1, made.text[:500]
    finally:
        runner.stop()
    # A service's log has no loading or step bars (diffusers draws one per pipeline component and step).
    log = runner.log_path.read_text(errors="replace")
    assert "runner ready" in log and "Loading pipeline components" not in log, log[-2000:]
    assert "it/s]" not in log, log[-2000:]
