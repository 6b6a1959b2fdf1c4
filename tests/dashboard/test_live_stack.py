"""The operator's live page for real: an orchestrator process, Redis, daphne, a Celery worker with beat.

The operator signs in with `manage.py operator_login_link`, opens the node's
socket with the session cookie, and sees the capacity the worker's beat pushes
change when the node's runner stops answering its health checks.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from websockets.sync.client import connect

from tests.conftest import HTTP, OPERATOR_KEY, PYTHON, ROOT, free_port, fresh_registry, serve, spawn, wait_for
from tests.dashboard.conftest import open_login_link

pytestmark = pytest.mark.integration

ADDRESS = Account.from_key(OPERATOR_KEY).address


@pytest.fixture
def site_env(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> dict[str, str]:
    """A private var dir and SQLite database, migrated, the tiny models (the node's among them) approved:
    nodes advertise only models the curators approved. Its runner is a stub."""
    return {
        **os.environ,
        "LIVEPEER_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": fresh_registry(tmp_path_factory, tmp_path),
        "REDIS_URL": redis_url,
        "WEB3_PROVIDER_URI": "",
        "DASHBOARD_REFRESH_S": "1",
        "PYTHONUNBUFFERED": "1",
        "NODE_KEY": OPERATOR_KEY,
    }


@pytest.fixture
def runner_health() -> Iterator[tuple[str, dict[str, bool]]]:
    state = {"healthy": True}
    app = FastAPI()

    @app.get("/health")
    async def health() -> Any:
        return {"status": "IDLE"} if state["healthy"] else JSONResponse({"status": "ERROR"}, status_code=500)

    with serve(app) as url:
        yield url, state


def node_process(env: dict[str, str], runner_url: str, tmp_path: Path) -> tuple[Any, str]:
    port = free_port()
    config = tmp_path / "node.toml"
    config.write_text(f"""
[node]
port = {port}
service_uri = "http://127.0.0.1:{port}"
private_key_env = "NODE_KEY"
health_interval_s = 0.5
[[capabilities]]
pipeline = "text-to-image"
model_id = "livepeer-ai/tiny-sdxl-turbo"
price_per_unit = 7
runners = [{{ url = "{runner_url}" }}]
""")
    process = spawn("orchestrator", [PYTHON, "manage.py", "run_orchestrator", "--config", str(config)], env, tmp_path)
    return process, f"http://127.0.0.1:{port}"


def test_the_operator_sees_capacity_change_live_through_redis_and_a_real_worker(site_env, runner_health, tmp_path):
    runner_url, runner = runner_health
    processes = []
    try:
        node, node_url = node_process(site_env, runner_url, tmp_path)
        processes.append(node)
        wait_for(lambda: HTTP.get(f"{node_url}/info", timeout=2).status_code == 200, 60, node.log_tail())
        env = {**site_env, "ORCHESTRATOR_URLS": node_url}
        port = free_port()
        web = f"http://127.0.0.1:{port}"
        daphne = spawn(
            "daphne",
            [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "livepeer_ai.asgi:application"],
            env,
            tmp_path,
        )
        processes.append(daphne)
        worker_args = ["-m", "celery", "-A", "livepeer_ai", "worker", "--beat", "--schedule", str(tmp_path / "beat")]
        worker = spawn("worker", [PYTHON, *worker_args, "--pool", "threads", "--loglevel", "INFO"], env, tmp_path)
        processes.append(worker)
        wait_for(lambda: HTTP.get(f"{web}/network/", timeout=2).status_code == 200, 30, daphne.log_tail())

        def login_link() -> str:
            command = [PYTHON, "manage.py", "operator_login_link", "--key-env", "NODE_KEY", "--base-url", web]
            result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            return result.stdout.strip() if result.returncode == 0 else ""

        # The node may sign in once the worker's refresh has seen it at its address.
        link = wait_for(login_link, 60, f"the worker to see the node\n{worker.log_tail()}", interval=1)
        with httpx.Client(timeout=10) as browser:
            signed_in = open_login_link(browser, link)
            assert signed_in.status_code == 302, signed_in.text
            cookie = f"sessionid={browser.cookies['sessionid']}"

        socket_url = web.replace("http://", "ws://") + f"/ws/dashboard/nodes/{ADDRESS}/"
        with connect(socket_url, origin=web, additional_headers={"Cookie": cookie}, open_timeout=10) as socket:

            def next_fragment_with(pattern: str, timeout: float = 30) -> str:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    html = socket.recv(timeout=max(0.1, deadline - time.monotonic()))
                    if re.search(pattern, html):
                        return html
                raise AssertionError(f"no fragment matching {pattern!r}\n{worker.log_tail()}")

            ready = next_fragment_with(r'data-in-use="0" data-idle="1"')
            assert "1 healthy" in ready and "7 wei / 1 px" in ready
            runner["healthy"] = False
            failing = next_fragment_with(r'data-idle="0"')
            assert "1 restarting" in failing and "health check failed" in failing

        # Someone else's session never gets the socket.
        with pytest.raises(Exception, match="403"):
            connect(socket_url, origin=web, open_timeout=10)
    finally:
        for process in reversed(processes):
            process.stop()
