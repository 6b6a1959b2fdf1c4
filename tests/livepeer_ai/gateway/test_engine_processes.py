"""Engines as separate processes sharing one queue: a worker killed mid-stage, and the stage finishes once.

The demo's processes for real: an orchestrator node process selling a real tiny
runner, `manage.py run_engine` processes on the stack's SQLite database, read
back through that database.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from typing import Any

import pytest

from tests.conftest import HTTP, PYTHON, ROOT, wait_for
from tests.processes import empty_queue, start_engine, start_orchestrator

pytestmark = pytest.mark.integration

NODE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
LONG_JOB = {"prompt": "kill test", "width": 256, "height": 256, "num_inference_steps": 30, "seed": 4}


def submit(env: dict[str, str]) -> str:
    script = (
        "import json; from livepeer_ai.gateway.workflow import create_api_job; "
        f"print(create_api_job('text-to-image', json.loads({json.dumps(json.dumps(LONG_JOB))}), None, None).id)"
    )
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def rows(env: dict[str, str], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"), timeout=20) as db:
        return list(db.execute(sql, params))


def test_a_worker_killed_mid_stage_is_replaced_and_the_stage_finishes_once(stack_env, runners, tmp_path, request):
    node = start_orchestrator(stack_env, tmp_path, NODE_KEY, {"text-to-image": runners.url("text-to-image")})
    request.addfinalizer(node.stop)  # stopped whatever fails below
    # A copy of the stack's database with an empty queue: other tests' waiting jobs are not this node's work.
    database = tmp_path / "db.sqlite3"
    shutil.copy(stack_env["DATABASE_URL"].removeprefix("sqlite:///"), database)
    empty_queue({"DATABASE_URL": f"sqlite:///{database}"})
    env = {
        **stack_env,
        "DATABASE_URL": f"sqlite:///{database}",
        "ORCHESTRATOR_URLS": node.url,
        "ORCHESTRATOR_INFO_TTL_S": "1",
        "ENGINE_HEARTBEAT_MS": "500",
        "ENGINE_LEASE_MS": "3000",
    }
    first = start_engine(env, tmp_path, name="engine-a")
    second = None
    try:
        job_id = submit(env).replace("-", "")
        # The stage is on a runner, with some steps done, when its engine dies.
        wait_for(
            lambda: rows(env, "SELECT step FROM gateway_job WHERE id = ? AND step >= 3", job_id),
            120,
            f"the stage to make progress\n{first.log_tail()}",
        )
        first.proc.kill()
        first.proc.wait(timeout=10)
        killed_at = time.monotonic()
        second = start_engine(env, tmp_path, name="engine-b")
        wait_for(
            lambda: rows(env, "SELECT 1 FROM gateway_job WHERE id = ? AND status = 'succeeded'", job_id),
            180,
            f"the job to finish on the second engine\n{second.log_tail()}",
        )
        recovered_s = time.monotonic() - killed_at
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
    attempts = rows(env, "SELECT outcome FROM gateway_stageattempt WHERE job_id = ? ORDER BY id", job_id)
    assert [outcome for (outcome,) in attempts] == ["lost", "succeeded"]
    assert rows(env, "SELECT count(*) FROM gateway_receipt WHERE job_id = ?", job_id) == [(1,)]
    assert rows(env, "SELECT count(*) FROM gateway_queuedstage WHERE job_id = ?", job_id) == [(0,)]
    # The node charged for the one stage it finished; the one cut off mid-stream was not charged.
    stats = HTTP.get(f"{node.url}/info", timeout=5).json()["capabilities"][0]["stats"]
    node.stop()
    assert stats["served"] == 1, stats
    # One image's pixels at the node's price (tests/processes.py node_config).
    assert stats["fees_wei"] == LONG_JOB["width"] * LONG_JOB["height"] * 4_768_371
    print(f"stage re-driven and finished {recovered_s:.1f} s after the kill")
