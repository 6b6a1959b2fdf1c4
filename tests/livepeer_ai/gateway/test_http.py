"""The gateway's calls to orchestrators outside a job's stream share one HTTP client per process."""

from __future__ import annotations

import os
import select
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI, Request

from livepeer_ai.gateway.http import orchestrator_client
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.gateway.network import refresh_info
from tests.conftest import serve

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_every_thread_gets_the_same_client():
    start = threading.Barrier(8)

    def client_id(_: int) -> int:
        start.wait(timeout=10)
        return id(orchestrator_client())

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(client_id, range(8))) == {id(orchestrator_client())}


def test_a_forked_child_makes_its_own_client():
    # A Celery prefork worker must not write to the sockets of its parent's pooled connections.
    parent_client = orchestrator_client()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, then leave without running pytest's teardown
        try:
            own = orchestrator_client()
            os.write(write_end, b"own" if own is not parent_client and own is orchestrator_client() else b"same")
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        answer = os.read(read_end, 16) if ready else b"no answer within 30 s"
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert answer == b"own"
    assert orchestrator_client() is parent_client


@pytest.fixture
def info_server() -> Any:
    """An orchestrator's /info that notes the client port of every request it answers."""
    app = FastAPI()
    app.state.client_ports = []

    @app.get("/info")
    async def info(request: Request) -> dict[str, Any]:
        assert request.client is not None
        app.state.client_ports.append(request.client.port)
        return {"address": ADDRESS, "service_uri": "", "version": "0.1.0", "capabilities": []}

    with serve(app) as url:
        yield url, app.state.client_ports


@pytest.mark.django_db
def test_info_requests_reuse_one_connection(settings, info_server):
    settings.WEB3_PROVIDER_URI = ""
    url, client_ports = info_server
    node = Orchestrator.objects.create(service_uri=url)
    for _ in range(3):
        assert refresh_info(node, force=True).reachable, node.last_error
    assert len(client_ports) == 3
    assert len(set(client_ports)) == 1, f"a new connection per request: client ports {client_ports}"
