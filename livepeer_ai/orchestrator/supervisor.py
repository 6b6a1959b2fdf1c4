"""Runner supervision: start warm runners, watch their health, restart the ones that die.

Local runners are `manage.py run_runner` child processes; external ones are any
server speaking the runner API, health-checked but never started or restarted.
A runner that never becomes healthy is reported FAILED with its log tail rather
than dropped, and every restart is counted (docs/protocol.md §1.5 notes that go-livepeer's
runners crashed silently).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from livepeer_ai.lifetime import die_with_parent
from livepeer_ai.orchestrator.children import Pidfile, kill_group
from livepeer_ai.orchestrator.config import Capability, NodeConfig
from livepeer_ai.ports import free_port

logger = logging.getLogger(__name__)

MANAGE_PY = Path(__file__).resolve().parent.parent.parent / "manage.py"
HEALTH_TIMEOUT_S = 5.0  # go-livepeer checks health with a 5 s timeout (docs/protocol.md §1.5)
LOG_TAIL_LINES = 30


class RunnerState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    UNHEALTHY = "unhealthy"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


# States a runner leaves by itself (it comes up, or is restarted after failed health checks).
RECOVERING = frozenset({RunnerState.STARTING, RunnerState.RESTARTING, RunnerState.UNHEALTHY})


@dataclass
class SupervisedRunner:
    id: str
    capability: Capability
    url: str
    device: str = ""
    token: str = ""
    port: int = 0
    state: RunnerState = RunnerState.STARTING
    restarts: int = 0
    health_failures: int = 0
    last_error: str = ""
    log_tail: str = ""
    in_use: bool = False
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def local(self) -> bool:
        return bool(self.device)

    def read_log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def describe(self, with_log: bool = False) -> dict[str, Any]:
        described: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "device": self.device or None,
            "external": not self.local,
            "state": str(self.state),
            "in_use": self.in_use,
            "restarts": self.restarts,
            "last_error": self.last_error,
        }
        if with_log:
            described["log_tail"] = self.log_tail or self.read_log_tail()
        return described


class Supervisor:
    def __init__(
        self,
        config: NodeConfig,
        memory_mb: dict[tuple[str, str], int],
        log_dir: Path,
        pidfile: Pidfile | None = None,
    ) -> None:
        self.config = config
        self.log_dir = log_dir
        # Where the runners' pids are kept, so the next node can reap them (orchestrator/children.py).
        self.pidfile = pidfile
        self.runners: list[SupervisedRunner] = []
        self._monitor: asyncio.Task[None] | None = None
        self._restarts: set[asyncio.Task[None]] = set()
        # The node's one runner client (runner_http.py), given at start: a client per
        # health check would load the CA bundle every round, on the event loop.
        self._http: httpx.AsyncClient | None = None
        self._place(memory_mb)

    def _place(self, memory_mb: dict[tuple[str, str], int]) -> None:
        """Create the runner records, refusing those a device's memory budget can't hold."""
        used: dict[str, int] = {}
        for capability in self.config.capabilities:
            name = f"{capability.pipeline}/{capability.model_id}"
            for group in capability.local:
                for _ in range(group.count):
                    runner = SupervisedRunner(
                        id=f"{name}#{len(self.runners)}", capability=capability, url="", device=group.device
                    )
                    need = memory_mb.get(capability.key, 0)
                    budget = self.config.devices.get(group.device, 0)
                    if budget and used.get(group.device, 0) + need > budget:
                        runner.state = RunnerState.FAILED
                        runner.last_error = (
                            f"not enough memory on {group.device}: needs {need} MiB, "
                            f"{budget - used.get(group.device, 0)} MiB left of {budget}"
                        )
                    else:
                        used[group.device] = used.get(group.device, 0) + need
                    self.runners.append(runner)
            for external in capability.external:
                self.runners.append(
                    SupervisedRunner(
                        id=f"{name}#{len(self.runners)}", capability=capability, url=external.url, token=external.token
                    )
                )

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for runner in self.runners:
            if runner.local and runner.state != RunnerState.FAILED:
                self._spawn(runner)
        await asyncio.gather(*(self._await_ready(r) for r in self.runners if r.state != RunnerState.FAILED))
        self._monitor = asyncio.create_task(self._monitor_loop())

    async def stop(self) -> None:
        if self._monitor:
            self._monitor.cancel()
        for task in list(self._restarts):
            task.cancel()
        for runner in self.runners:
            if runner.process and runner.process.poll() is None:
                runner.process.terminate()
        for runner in self.runners:
            if runner.process:
                try:
                    await asyncio.to_thread(runner.process.wait, 15)
                except subprocess.TimeoutExpired:
                    kill_group(runner.process.pid)
                runner.state = RunnerState.STOPPED
        if self.pidfile is not None:
            self.pidfile.remove()

    def _spawn(self, runner: SupervisedRunner) -> None:
        runner.port = runner.port or free_port()
        runner.url = f"http://127.0.0.1:{runner.port}"
        runner.log_path = self.log_dir / f"{runner.id.replace('/', '_').replace('#', '-')}.log"
        args = [
            sys.executable,
            str(MANAGE_PY),
            "run_runner",
            "--pipeline",
            runner.capability.pipeline,
            "--model",
            runner.capability.model_id,
            "--port",
            str(runner.port),
            "--device",
            runner.device,
        ]
        with runner.log_path.open("ab") as log:
            log.write(f"--- start {time.strftime('%Y-%m-%d %H:%M:%S')} (restarts: {runner.restarts})\n".encode())
            log.flush()
            # Its own process group, and killed by the kernel if the node dies (orchestrator/children.py).
            # Started from the event loop's thread only: the kill follows that thread's death.
            runner.process = subprocess.Popen(
                args,
                cwd=MANAGE_PY.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ),
                start_new_session=True,
                # Prepared before the fork: nothing between fork and exec may take a lock.
                preexec_fn=die_with_parent(),
            )
        if self.pidfile is not None:
            self.pidfile.started(runner.id, runner.process.pid)
        runner.started_at = time.monotonic()
        runner.health_failures = 0
        runner.state = RunnerState.STARTING if runner.restarts == 0 else RunnerState.RESTARTING

    async def _health(self, runner: SupervisedRunner) -> dict[str, Any] | None:
        if self._http is None:
            raise RuntimeError("The supervisor checks runners' health only once started.")
        headers = {"Authorization": f"Bearer {runner.token}"} if runner.token else {}
        try:
            response = await self._http.get(f"{runner.url}/health", headers=headers, timeout=HEALTH_TIMEOUT_S)
            return dict(response.json()) if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    async def _await_ready(self, runner: SupervisedRunner) -> None:
        """Poll /health every 500 ms until ready, failed, or the start timeout passes."""
        deadline = runner.started_at + self.config.runner_start_timeout_s
        while time.monotonic() < deadline:
            if runner.process is not None and runner.process.poll() is not None:
                await self._fail(runner, f"exited with code {runner.process.returncode} while starting")
                return
            health = await self._health(runner)
            status = (health or {}).get("status")
            if status in {"IDLE", "OK"}:
                runner.state = RunnerState.READY
                runner.health_failures = 0
                logger.info("runner %s ready at %s", runner.id, runner.url)
                return
            if status == "ERROR":
                detail = (health or {}).get("detail", {}).get("msg", "")
                await self._fail(runner, f"failed to load its model: {detail}")
                return
            await asyncio.sleep(0.5)
        await self._fail(runner, f"did not become healthy within {self.config.runner_start_timeout_s:.0f} s")

    async def _fail(self, runner: SupervisedRunner, reason: str) -> None:
        runner.state = RunnerState.FAILED
        runner.last_error = reason
        runner.log_tail = runner.read_log_tail()
        if runner.process and runner.process.poll() is None:
            runner.process.terminate()
            try:
                await asyncio.to_thread(runner.process.wait, 10)
            except subprocess.TimeoutExpired:
                runner.process.kill()
        logger.error("runner %s %s\n--- log tail ---\n%s", runner.id, reason, runner.log_tail)

    async def _monitor_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_interval_s)
            await asyncio.gather(*(self.check(runner) for runner in self.runners), return_exceptions=True)

    async def check(self, runner: SupervisedRunner) -> None:
        """One health round for one runner: restart a dead or hung local one."""
        if runner.state in {RunnerState.FAILED, RunnerState.STOPPED, RunnerState.STARTING, RunnerState.RESTARTING}:
            return
        if runner.process is not None and runner.process.poll() is not None:
            self._restart_soon(runner, f"exited with code {runner.process.returncode}")
            return
        health = await self._health(runner)
        if health and health.get("status") in {"IDLE", "OK"}:
            runner.health_failures = 0
            if runner.state == RunnerState.UNHEALTHY:
                runner.state = RunnerState.READY
            return
        runner.health_failures += 1
        runner.last_error = f"health check failed ({runner.health_failures} in a row)"
        if runner.health_failures < self.config.max_health_failures:
            return
        if runner.local:
            self._restart_soon(runner, "stopped answering its health check")
        else:
            runner.state = RunnerState.UNHEALTHY

    def _restart_soon(self, runner: SupervisedRunner, reason: str) -> None:
        # In the background, so one slow start never delays the other runners' checks.
        runner.state = RunnerState.RESTARTING
        task = asyncio.create_task(self.restart(runner, reason))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def restart(self, runner: SupervisedRunner, reason: str) -> None:
        runner.restarts += 1
        runner.last_error = reason
        runner.log_tail = runner.read_log_tail()
        runner.in_use = False
        logger.warning("restarting runner %s (%s), restart #%d", runner.id, reason, runner.restarts)
        if runner.process and runner.process.poll() is None:
            kill_group(runner.process.pid)
            await asyncio.to_thread(runner.process.wait, 10)
        self._spawn(runner)
        await self._await_ready(runner)

    # -- capacity ------------------------------------------------------------------

    def runners_for(self, key: tuple[str, str]) -> list[SupervisedRunner]:
        return [r for r in self.runners if r.capability.key == key]

    def reserve(self, key: tuple[str, str]) -> SupervisedRunner | None:
        """One free, ready runner for the capability, marked in use; None means no capacity.

        Runs on the event loop thread only, so check-and-set needs no lock.
        """
        for runner in self.runners_for(key):
            if runner.state == RunnerState.READY and not runner.in_use:
                runner.in_use = True
                return runner
        return None

    def release(self, runner: SupervisedRunner) -> None:
        runner.in_use = False

    def runner_states(self, key: tuple[str, str]) -> dict[str, int]:
        """How the capability's runners are doing, without their logs: public in /info."""
        runners = self.runners_for(key)
        return {
            "healthy": sum(1 for r in runners if r.state == RunnerState.READY),
            "restarting": sum(1 for r in runners if r.state in RECOVERING),
            "down": sum(1 for r in runners if r.state in {RunnerState.FAILED, RunnerState.STOPPED}),
            "restarts": sum(r.restarts for r in runners),
        }

    def capacity(self, key: tuple[str, str]) -> tuple[int, int]:
        """(runners ready to serve, of which in use)."""
        ready = [r for r in self.runners_for(key) if r.state == RunnerState.READY]
        return len(ready), sum(1 for r in ready if r.in_use)
