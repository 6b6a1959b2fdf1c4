"""How the node talks to its runners over HTTP: one pooled client per node process.

Building an `httpx.AsyncClient` loads the CA bundle into a fresh SSL context, about
30 ms of CPU on the event loop each time; a client per job (and per health check)
paid that on every job and stalled every other stream while it did. The node
opens one client when its app starts and closes it when the app stops
(`create_node_app`); each call passes its own timeout.
"""

from __future__ import annotations

import asyncio

import httpx

from livepeer_ai.orchestrator.supervisor import SupervisedRunner

# A job's request and its SSE stream: a video stage can run for minutes.
RUNNER_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
RUNNER_VERSION_TIMEOUT_S = 5.0
IDLE_CHECK_TIMEOUT_S = 5.0
IDLE_CHECK_INTERVAL_S = 0.2
# A streaming job holds its connection for the whole run, so the pool must hold one per
# runner the node could ever have busy at once, plus health checks, with room to spare.
# Idle connections are dropped before uvicorn's 5 s keep-alive (the runners' server)
# closes them, so a job's POST is never sent down a connection the runner is closing.
RUNNER_POOL_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=2.0)


def runner_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=RUNNER_TIMEOUT, limits=RUNNER_POOL_LIMITS)


def runner_auth(runner: SupervisedRunner) -> dict[str, str]:
    return {"authorization": f"Bearer {runner.token}"} if runner.token else {}


async def fetch_runner_version(http: httpx.AsyncClient, runner: SupervisedRunner) -> str | None:
    """The runner's /version (at most 100 characters), or None when it will not say."""
    try:
        response = await http.get(
            f"{runner.url}/version", headers=runner_auth(runner), timeout=RUNNER_VERSION_TIMEOUT_S
        )
        response.raise_for_status()
        return str(response.json()["version"])[:100]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


async def wait_until_idle(http: httpx.AsyncClient, runner: SupervisedRunner, timeout_s: float) -> None:
    """Return once the runner no longer says it is busy, stops answering, or `timeout_s` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        try:
            response = await http.get(f"{runner.url}/health", headers=runner_auth(runner), timeout=IDLE_CHECK_TIMEOUT_S)
            if response.json().get("status") != "OK":
                return
        except (httpx.HTTPError, ValueError):
            return  # the health loop deals with a runner that stopped answering
        await asyncio.sleep(IDLE_CHECK_INTERVAL_S)
