"""No runner outlives its node: a node killed with SIGKILL takes its runners along, and a starting
node kills the runners a previous node of its name left behind (real `run_orchestrator` processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from livepeer_ai.orchestrator.children import NodeAlreadyRunning, Pidfile, Recorded
from tests.conftest import PYTHON, ManagedProcess, free_port, spawn, start_runner, wait_for
from tests.livepeer_ai.orchestrator.test_supervision import (
    KEY,
    MODEL,
    PIPELINE,
    READY_TIMEOUT,
    OrchestratorNode,
    capability_toml,
    gone,
    runner_port,
    runs_on_port,
    stop_node,
)

RUNNER_GONE_WITHIN_S = 5


@pytest.fixture
def nodes(stack_env: dict[str, str], tmp_path: Path) -> Iterator[list[OrchestratorNode]]:
    """Nodes the test starts; each, and every runner one of them started, is stopped at the end."""
    started: list[OrchestratorNode] = []
    yield started
    for node in started:
        stop_node(node)
    # Runners of a node killed hard are no longer its children: found by the pidfiles' names instead.
    for node in started:
        for runner in node_runners.get(node.pid, []):
            process = runner.live_process()
            if process is not None:
                process.kill()


# Runner processes each node started, by node pid, as the test saw them.
node_runners: dict[int, list[Recorded]] = {}


def start_named_node(
    name: str, stack_env: dict[str, str], tmp_path: Path, started: list[OrchestratorNode]
) -> OrchestratorNode:
    port = free_port()
    config = tmp_path / f"{name}-{port}.toml"
    config.write_text(
        f'[node]\nname = "{name}"\nport = {port}\nprivate_key_env = "ORCH_TEST_KEY"\nhealth_interval_s = 1\n'
        + capability_toml()
    )
    process = spawn(
        f"{name}-{port}",
        [PYTHON, "manage.py", "run_orchestrator", "--config", str(config)],
        {**stack_env, "ORCH_TEST_KEY": KEY},
        tmp_path,
    )
    node = OrchestratorNode(process=process, url=f"http://127.0.0.1:{port}")
    started.append(node)
    return node


def ready_runner_pid(node: OrchestratorNode) -> int:
    (runner,) = node.wait_states(["ready"])
    pid = node.runner_pid(runner_port(runner))
    node_runners.setdefault(node.pid, []).append(Recorded.of(pid))
    return pid


def pidfile_of(stack_env: dict[str, str], name: str) -> Path:
    return Path(stack_env["LIVEPEER_VAR_DIR"]) / "run" / f"{name}.json"


@pytest.mark.integration
def test_a_node_killed_with_sigkill_takes_its_runners_along_and_a_restart_starts_no_duplicate(
    stack_env: dict[str, str], tmp_path: Path, nodes: list[OrchestratorNode]
) -> None:
    name = f"orphan-test-{tmp_path.name}"
    node = start_named_node(name, stack_env, tmp_path, nodes)
    runner_pid = ready_runner_pid(node)
    recorded = json.loads(pidfile_of(stack_env, name).read_text())
    assert [r["pid"] for r in recorded["runners"].values()] == [runner_pid]

    node.process.proc.send_signal(signal.SIGKILL)
    node.process.proc.wait(timeout=10)
    killed_at = time.monotonic()
    wait_for(lambda: gone(runner_pid), RUNNER_GONE_WITHIN_S, f"runner {runner_pid} to die with its node")
    print(f"runner gone {time.monotonic() - killed_at:.2f} s after its node's SIGKILL")

    restarted = start_named_node(name, stack_env, tmp_path, nodes)
    new_runner_pid = ready_runner_pid(restarted)
    assert new_runner_pid != runner_pid and gone(runner_pid)
    # The restarted node runs exactly one runner, and its pidfile names that one only.
    runners = [p for p in psutil.Process(restarted.pid).children(recursive=True) if "run_runner" in p.cmdline()]
    assert [p.pid for p in runners] == [new_runner_pid]
    recorded = json.loads(pidfile_of(stack_env, name).read_text())
    assert recorded["node"]["pid"] == restarted.pid
    assert [r["pid"] for r in recorded["runners"].values()] == [new_runner_pid]


@pytest.mark.integration
def test_a_starting_node_kills_the_runners_a_previous_node_left_and_nothing_else(
    stack_env: dict[str, str], tmp_path: Path, nodes: list[OrchestratorNode]
) -> None:
    name = f"reap-test-{tmp_path.name}"
    # What a node killed before its runners could be told leaves behind: a live runner it started,
    # in the pidfile with the dead node. A process that took a recorded pid later is not ours to kill.
    dead_node = subprocess.Popen(["sleep", "60"])
    dead_node_recorded = Recorded.of(dead_node.pid)
    dead_node.kill()
    dead_node.wait()
    leftover = start_runner("leftover", PIPELINE, MODEL, stack_env, tmp_path)
    leftover_port = int(leftover.url.rsplit(":", 1)[1])
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        path = pidfile_of(stack_env, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "node": dead_node_recorded.to_json(),
                    "runners": {
                        f"{PIPELINE}#0": Recorded.of(leftover.proc.pid).to_json(),
                        # The bystander's pid, but a start time that is not its own.
                        f"{PIPELINE}#1": {"pid": bystander.pid, "create_time": 1.0},
                    },
                }
            )
        )
        node = start_named_node(name, stack_env, tmp_path, nodes)
        wait_for(
            lambda: leftover.proc.poll() is not None,
            READY_TIMEOUT,
            f"the leftover runner to be killed\n{node.process.log_tail()}",
        )
        assert leftover.proc.returncode == -signal.SIGKILL
        assert not any(runs_on_port(p, leftover_port) for p in psutil.process_iter())
        ready_runner_pid(node)
        assert bystander.poll() is None, "a process the pidfile did not really name was killed"
    finally:
        ManagedProcess.stop(leftover)
        bystander.kill()
        bystander.wait()


@pytest.mark.integration
def test_a_node_refuses_to_start_while_the_node_its_pidfile_names_still_runs(tmp_path: Path) -> None:
    alive = subprocess.Popen(["sleep", "60"])
    try:
        path = tmp_path / "node.json"
        path.write_text(json.dumps({"node": Recorded.of(alive.pid).to_json(), "runners": {}}))
        with pytest.raises(NodeAlreadyRunning):
            Pidfile(path).reap_previous()
        # Once that node is gone, the name is free again and the pidfile is this node's.
        alive.kill()
        alive.wait()
        Pidfile(path).reap_previous()
        assert json.loads(path.read_text())["node"]["pid"] == os.getpid()
    finally:
        alive.kill()
        alive.wait()
