"""An orchestrator node supervising real runner processes: boot, crash, failure, budget, shutdown.

The runners are frame interpolation's: what is under test is the supervisor, and that runner (OpenCV,
no torch) starts on about 1.5 s of CPU where a diffusers one takes about 6."""

from __future__ import annotations

import io
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from PIL import Image

from tests.conftest import HTTP, PYTHON, ROOT, ManagedProcess, free_port, spawn, start_runner, wait_for

pytestmark = pytest.mark.integration

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PIPELINE, MODEL = "frame-interpolation", "opencv/dis-flow"
TINY = "livepeer-ai/tiny-sdxl-turbo"
READY_TIMEOUT = 120
# A job: two 64x64 frames, doubled (one frame made between them): 3 frames out, 64 * 64 * 3 units.
JOB_UNITS = 64 * 64 * 3


def two_frame_gif() -> bytes:
    frames = [Image.new("RGB", (64, 64), (shade, 40, 90)) for shade in (10, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=166, loop=0)
    return buffer.getvalue()


def runner_port(runner: dict[str, Any]) -> int:
    return int(runner["url"].rsplit(":", 1)[1])


def runs_on_port(process: psutil.Process, port: int) -> bool:
    """A live (not zombie) `run_runner` process serving `port`."""
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return "run_runner" in cmdline and "--port" in cmdline and cmdline[cmdline.index("--port") + 1] == str(port)


def runner_processes_on(port: int) -> list[psutil.Process]:
    return [p for p in psutil.process_iter() if runs_on_port(p, port)]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class OrchestratorNode:
    process: ManagedProcess
    url: str

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    def info(self) -> dict[str, Any]:
        response = HTTP.get(f"{self.url}/info", timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def capability(self, model_id: str = MODEL) -> dict[str, Any]:
        return next(c for c in self.info()["capabilities"] if c["model_id"] == model_id)

    def runners(self, model_id: str = MODEL) -> list[dict[str, Any]]:
        return list(self.capability(model_id)["runners"])

    def runners_with_logs(self) -> list[dict[str, Any]]:
        response = HTTP.get(f"{self.url}/runners", timeout=10)
        assert response.status_code == 200, response.text
        return list(response.json()["runners"])

    def wait_states(self, states: list[str], model_id: str = MODEL) -> list[dict[str, Any]]:
        """Wait until the capability's runners are in exactly these states (in any order)."""

        def reached() -> list[dict[str, Any]] | None:
            runners = self.runners(model_id)
            return runners if sorted(r["state"] for r in runners) == sorted(states) else None

        return list(
            wait_for(
                reached,
                READY_TIMEOUT,
                f"runners of {model_id} to be {states}\n{self.process.log_tail()}",
                interval=0.25,
            )
        )

    def runner_pid(self, port: int) -> int:
        children = psutil.Process(self.pid).children(recursive=True)
        (child,) = [c for c in children if runs_on_port(c, port)]
        return int(child.pid)

    def post_job(self, model_id: str = MODEL) -> httpx.Response:
        return HTTP.post(
            f"{self.url}/{PIPELINE}",
            data={"model_id": model_id, "multiplier": "2"},
            files={"video": ("in.gif", two_frame_gif(), "image/gif")},
            timeout=120,
        )


def capability_toml(
    model_id: str = MODEL, runners: str = '{ device = "cpu", count = 1 }', extra: str = "", pipeline: str = PIPELINE
) -> str:
    return f"""
[[capabilities]]
pipeline = "{pipeline}"
model_id = "{model_id}"
{extra}
runners = [{runners}]
"""


def stop_node(node: OrchestratorNode) -> None:
    """Stop the node, then any runner it left behind (by pid: only processes this test started)."""
    try:
        descendants = psutil.Process(node.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    node.process.stop()
    for child in descendants:
        try:
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                child.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture
def start_node(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., OrchestratorNode]]:
    """Start `run_orchestrator` on a config written to tmp_path; every node started is stopped at the end."""
    started: list[OrchestratorNode] = []

    def start(capabilities: str, node_extra: str = "", devices: str = "") -> OrchestratorNode:
        port = free_port()
        # A name per node gives each its own runner log folder under the shared var dir.
        config = tmp_path / f"node-{port}.toml"
        config.write_text(
            f"""
[node]
name = "test-node-{port}"
port = {port}
private_key_env = "ORCH_TEST_KEY"
health_interval_s = 1
{node_extra}
{devices}
{capabilities}
"""
        )
        process = spawn(
            f"orchestrator-{port}",
            [PYTHON, "manage.py", "run_orchestrator", "--config", str(config)],
            {**stack_env, "ORCH_TEST_KEY": KEY},
            tmp_path,
        )
        node = OrchestratorNode(process=process, url=f"http://127.0.0.1:{port}")
        started.append(node)
        wait_for(
            lambda: process.proc.poll() is not None or HTTP.get(f"{node.url}/info", timeout=2).status_code == 200,
            60,
            f"orchestrator /info\n{process.log_tail()}",
            interval=0.25,
        )
        assert process.proc.poll() is None, f"orchestrator exited:\n{process.log_tail()}"
        return node

    try:
        yield start
    finally:
        for node in started:
            stop_node(node)


def register(env: dict[str, str], model_id: str, **overrides: Any) -> None:
    """A frame-interpolation registry entry: a copy of the optical-flow entry with `overrides`."""
    code = f"""
import json
from livepeer_ai.registry.models import ModelEntry
src = ModelEntry.objects.get(pipeline={PIPELINE!r}, model_id={MODEL!r})
fields = {{"family": src.family, "local_path": src.local_path, "max_side": src.max_side, "memory_mb": src.memory_mb}}
# Approved, or the node would not sell it.
fields["status"] = "approved"
fields.update(json.loads({json.dumps(overrides)!r}))
ModelEntry.objects.update_or_create(pipeline={PIPELINE!r}, model_id={model_id!r}, defaults=fields)
"""
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def assert_three_frames(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    (frames,) = response.json()["frames"]
    assert len(frames) == 3 and all(frame["url"].startswith("data:image/") for frame in frames)


def test_boots_warm_runners_and_reports_them_ready(start_node: Callable[..., OrchestratorNode]) -> None:
    node = start_node(
        capability_toml(runners='{ device = "cpu", count = 2 }', extra="price_per_unit = 3\npixels_per_unit = 2")
    )

    runners = node.wait_states(["ready", "ready"])

    info = node.info()
    assert info["address"] == ADDRESS
    assert info["service_uri"] == node.url
    (capability,) = info["capabilities"]
    assert (capability["pipeline"], capability["model_id"], capability["warm"]) == (PIPELINE, MODEL, True)
    assert (capability["capacity"], capability["in_use"]) == (2, 0)
    assert (capability["price_per_unit"], capability["pixels_per_unit"]) == (3, 2)
    assert len({r["url"] for r in runners}) == 2
    for runner in runners:
        assert (runner["device"], runner["external"], runner["restarts"], runner["last_error"]) == ("cpu", False, 0, "")

    assert_three_frames(node.post_job())

    capability = node.capability()
    assert capability["stats"] == {
        "served": 1,
        "failed": {},
        "insufficient_capacity": 0,
        "units": JOB_UNITS,
        "fees_wei": JOB_UNITS * 3 // 2,
    }
    assert (capability["capacity"], capability["in_use"]) == (2, 0)


def test_killed_runner_is_restarted_and_counted(start_node: Callable[..., OrchestratorNode]) -> None:
    node = start_node(capability_toml())
    (runner,) = node.wait_states(["ready"])
    port = runner_port(runner)
    victim = psutil.Process(node.runner_pid(port))

    victim.send_signal(signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        (current,) = node.runners()
        return current if current["state"] == "ready" and current["restarts"] == 1 else None

    runner = wait_for(restarted, READY_TIMEOUT, f"runner restarted\n{node.process.log_tail()}", interval=0.25)
    assert "exited" in runner["last_error"]
    assert runner_port(runner) == port
    assert node.runner_pid(port) != victim.pid
    assert node.capability()["capacity"] == 1

    assert_three_frames(node.post_job())
    assert node.capability()["stats"]["served"] == 1


def test_runner_that_fails_to_load_is_reported_with_its_log(
    start_node: Callable[..., OrchestratorNode], stack_env: dict[str, str]
) -> None:
    model_id = "test/supervision-missing-weights"
    register(stack_env, model_id, family="torchscript-interpolator", local_path="/nonexistent/weights")
    node = start_node(capability_toml(model_id))

    (runner,) = node.wait_states(["failed"], model_id)

    assert "failed to load its model" in runner["last_error"]
    assert runner["restarts"] == 0
    (logged,) = node.runners_with_logs()
    assert logged["id"] == runner["id"]
    assert "nonexistent" in logged["log_tail"]
    assert node.capability(model_id)["capacity"] == 0

    response = node.post_job(model_id=model_id)

    assert response.status_code == 503
    assert response.json() == {"detail": {"msg": "insufficient capacity"}}
    assert node.capability(model_id)["stats"]["insufficient_capacity"] == 1
    wait_for(lambda: not runner_processes_on(runner_port(runner)), 30, "the failed runner process to exit")


def test_runner_that_never_gets_healthy_is_reported_failed_after_timeout(
    start_node: Callable[..., OrchestratorNode],
) -> None:
    # A diffusers runner: it takes seconds to start, so 1 s is never enough.
    node = start_node(capability_toml(TINY, pipeline="text-to-image"), node_extra="runner_start_timeout_s = 1")

    (runner,) = node.wait_states(["failed"], TINY)

    assert "did not become healthy within 1 s" in runner["last_error"]
    (logged,) = node.runners_with_logs()
    assert logged["log_tail"].strip()
    assert node.capability(TINY)["capacity"] == 0
    port = runner_port(runner)
    wait_for(lambda: not runner_processes_on(port), 30, f"runner on port {port} to be terminated")
    # Failed is final: nothing restarts it.
    assert node.runners(TINY)[0]["state"] == "failed"
    assert node.runners(TINY)[0]["restarts"] == 0


def test_memory_budget_limits_runners_per_device(
    start_node: Callable[..., OrchestratorNode], stack_env: dict[str, str]
) -> None:
    model_id = "test/supervision-600mb"
    register(stack_env, model_id, memory_mb=600)
    node = start_node(
        capability_toml(model_id, runners='{ device = "cpu", count = 2 }'), devices="[devices]\ncpu = 1000"
    )

    runners = node.wait_states(["failed", "ready"], model_id)

    (failed,) = [r for r in runners if r["state"] == "failed"]
    assert "not enough memory on cpu" in failed["last_error"]
    assert "needs 600 MiB, 400 MiB left of 1000" in failed["last_error"]
    assert failed["url"] == ""
    assert node.capability(model_id)["capacity"] == 1
    assert node.info()["hardware"] == {"devices": {"cpu": 1000}}


def test_shutdown_stops_every_runner(start_node: Callable[..., OrchestratorNode]) -> None:
    node = start_node(capability_toml(runners='{ device = "cpu", count = 2 }'))
    runners = node.wait_states(["ready", "ready"])
    runner_pids = [node.runner_pid(runner_port(r)) for r in runners]
    children = [c.pid for c in psutil.Process(node.pid).children(recursive=True)]
    assert set(runner_pids) <= set(children)

    node.process.proc.send_signal(signal.SIGTERM)

    returncode = node.process.proc.wait(timeout=60)
    # Uvicorn re-raises the signal once its graceful shutdown is done.
    assert returncode in {0, -signal.SIGTERM}, node.process.log_tail()
    assert "Application shutdown complete" in node.process.log_tail()
    wait_for(lambda: all(gone(pid) for pid in children), 30, f"runner processes {children} to exit")


def test_external_runner_is_health_checked_not_spawned(
    start_node: Callable[..., OrchestratorNode], stack_env: dict[str, str], tmp_path: Path
) -> None:
    external = start_runner("external", PIPELINE, MODEL, stack_env, tmp_path)
    try:
        node = start_node(capability_toml(runners=f'{{ url = "{external.url}" }}'))

        (runner,) = node.wait_states(["ready"])

        assert (runner["url"], runner["external"], runner["device"]) == (external.url, True, None)
        assert psutil.Process(node.pid).children(recursive=True) == []
        assert_three_frames(node.post_job())
        assert node.capability()["stats"]["served"] == 1

        external.proc.kill()
        external.proc.wait(timeout=10)

        (runner,) = node.wait_states(["unhealthy"])
        assert runner["restarts"] == 0
        assert "health check failed" in runner["last_error"]
        assert node.capability()["capacity"] == 0
        assert node.post_job().status_code == 503
    finally:
        external.stop()
