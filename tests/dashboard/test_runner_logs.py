"""The dashboard asks a node for its runner logs (/runners) only with that node's own token, or when the node is
on this machine; every node's runner health, from its public /info, is on the network overview."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dashboard.models import NodeSnapshot
from dashboard.snapshots import fetch_node
from livepeer_ai.gateway.models import Orchestrator

INFO = {
    "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "capabilities": [
        {
            "pipeline": "text-to-image",
            "model_id": "livepeer-ai/tiny-sdxl-turbo",
            "capacity": 1,
            "in_use": 0,
            "runners": [{"id": "t2i-0", "state": "ready", "restarts": 0}],
            "runner_states": {"healthy": 1, "restarting": 2, "down": 3, "restarts": 4},
        }
    ],
}


class Nodes:
    """The network as the dashboard's HTTP client sees it: every node answers; each request is recorded."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/info":
            return httpx.Response(200, json=INFO)
        return httpx.Response(200, json={"runners": [{"id": "t2i-0", "log_tail": f"logs of {request.url.host}"}]})

    def asked(self, path: str) -> list[tuple[str, str | None]]:
        return [(r.url.host, r.headers.get("authorization")) for r in self.requests if r.url.path == path]


@pytest.fixture
def nodes() -> Nodes:
    return Nodes()


def fetch(uri: str, nodes: Nodes) -> Any:
    return fetch_node(uri, transport=httpx.MockTransport(nodes))


def test_each_node_gets_only_its_own_token(settings, nodes):
    settings.ORCHESTRATOR_ADMIN_TOKENS = {"https://mine.example/": "mine-secret", "https://also-mine.example": "other"}
    fetched = fetch("https://mine.example", nodes)
    assert fetched.runners[0]["log_tail"] == "logs of mine.example"
    fetch("https://also-mine.example", nodes)
    assert nodes.asked("/runners") == [("mine.example", "Bearer mine-secret"), ("also-mine.example", "Bearer other")]
    assert nodes.asked("/info") == [("mine.example", None), ("also-mine.example", None)]


def test_a_node_without_a_token_elsewhere_is_not_asked_for_logs(settings, nodes):
    settings.ORCHESTRATOR_ADMIN_TOKENS = {"https://mine.example": "mine-secret"}
    fetched = fetch("https://third-party.example:8935", nodes)
    assert fetched.info == INFO and fetched.runners == []
    assert nodes.asked("/runners") == []
    assert all(r.headers.get("authorization") is None for r in nodes.requests)
    assert "ORCHESTRATOR_ADMIN_TOKENS" in fetched.runners_error


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8935", "http://[::1]:8935", "http://localhost:8936"])
def test_a_node_on_this_machine_is_asked_for_logs_without_a_token(settings, nodes, uri):
    settings.ORCHESTRATOR_ADMIN_TOKENS = {}
    fetched = fetch(uri, nodes)
    assert fetched.runners and fetched.runners_error == ""
    assert [authorization for _, authorization in nodes.asked("/runners")] == [None]


@pytest.mark.django_db
def test_the_network_overview_shows_every_nodes_runner_health(client):
    for uri, info in (("http://counted.test", INFO), ("http://older.test", {**INFO, "capabilities": [_older()]})):
        NodeSnapshot.objects.create(
            orchestrator=Orchestrator.objects.create(service_uri=uri), reachable=True, info=info
        )
    html = client.get("/network/").content.decode()
    counted = html.split('data-service-uri="http://counted.test"')[1].split("</tr>")[0]
    assert 'data-healthy="1" data-restarting="2" data-down="3" data-restarts="4"' in counted
    # A node from before the counts were in /info: counted from its runners' states.
    older = html.split('data-service-uri="http://older.test"')[1].split("</tr>")[0]
    assert 'data-healthy="1" data-restarting="1" data-down="1" data-restarts="3"' in older
    assert "1 healthy" in older and "1 restarting" in older and "1 down" in older and "3 restarts" in older


def _older() -> dict[str, Any]:
    capability = {key: value for key, value in INFO["capabilities"][0].items() if key != "runner_states"}
    capability["runners"] = [
        {"id": "a", "state": "ready", "restarts": 0},
        {"id": "b", "state": "unhealthy", "restarts": 1},
        {"id": "c", "state": "failed", "restarts": 2},
    ]
    return capability


def test_fetching_again_and_again_builds_one_tls_context(monkeypatch):
    """httpx builds a TLS context (the CA bundle loaded: tens of ms of CPU) for each client, and a refresh
    makes a client per node every few seconds: every client gets the same context."""
    import ssl

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from dashboard import snapshots
    from tests.conftest import serve

    async def info(request: Any) -> JSONResponse:
        return JSONResponse(INFO)

    made: list[int] = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: made.append(1) or real(*args, **kwargs))
    snapshots.tls_context.cache_clear()
    with serve(Starlette(routes=[Route("/info", info)])) as url:
        fetched = [fetch_node(url) for _ in range(3)]
    assert [f.info["address"] for f in fetched] == [INFO["address"]] * 3
    assert len(made) == 1
