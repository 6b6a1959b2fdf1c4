"""A node's operator routes (/runners with its log tails, /metrics with its earnings) need the node's admin
token, or, when it has none, a client on the node's own machine; runner health without logs is public in /info."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from eth_account import Account

from livepeer_ai.orchestrator.config import Capability, ExternalRunner, NodeConfig
from livepeer_ai.orchestrator.node import Node, create_node_app
from livepeer_ai.orchestrator.payment import OffchainPayments
from livepeer_ai.orchestrator.supervisor import RunnerState, Supervisor

pytestmark = pytest.mark.django_db(transaction=True)

T2I = ("text-to-image", "livepeer-ai/tiny-sdxl-turbo")
REMOTE = ("203.0.113.5", 40000)  # TEST-NET-3: a client somewhere else on the internet
LOOPBACK = ("127.0.0.1", 40000)
LOOPBACK_V6 = ("::1", 40000)


@pytest.fixture
def node(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Node:
    monkeypatch.delenv("ORCHESTRATOR_ADMIN_TOKEN", raising=False)
    settings.METRICS_TOKEN = ""
    config = NodeConfig(
        service_uri="http://node.test",
        host="127.0.0.1",
        port=1,
        private_key_env="UNUSED",
        capabilities=(
            Capability(
                *T2I,
                warm=True,
                price_per_unit=1,
                pixels_per_unit=1,
                external=tuple(ExternalRunner(f"http://127.0.0.1:{port}") for port in (9, 10, 11, 12)),
            ),
        ),
    )
    built = Node(config, Account.create(), Supervisor(config, {}, tmp_path), OffchainPayments(), chain_id=31337)
    ready, restarting, failed, unhealthy = built.supervisor.runners
    ready.state, ready.in_use = RunnerState.READY, True
    restarting.state, restarting.restarts, restarting.log_tail = RunnerState.RESTARTING, 2, "CUDA out of memory"
    failed.state, failed.restarts = RunnerState.FAILED, 5
    unhealthy.state = RunnerState.UNHEALTHY
    return built


async def get(node: Node, path: str, client: tuple[str, int], token: str = "") -> httpx.Response:
    """A request to the node's app as it arrives from `client` (the ASGI scope's client address)."""
    transport = httpx.ASGITransport(app=create_node_app(node), client=client)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as http:
        return await http.get(path, headers=headers)


@pytest.mark.parametrize("path", ["/runners", "/metrics"])
async def test_without_a_token_only_the_nodes_own_machine_may_ask(node, path):
    refused = await get(node, path, REMOTE)
    assert refused.status_code == 403
    assert "ORCHESTRATOR_ADMIN_TOKEN" in refused.json()["detail"]["msg"]
    assert (await get(node, path, LOOPBACK)).status_code == 200
    assert (await get(node, path, LOOPBACK_V6)).status_code == 200


async def test_the_log_tails_reach_the_operator_on_the_nodes_machine(node):
    runners = (await get(node, "/runners", LOOPBACK)).json()["runners"]
    assert [r["log_tail"] for r in runners][1] == "CUDA out of memory"


@pytest.mark.parametrize("path", ["/runners", "/metrics"])
async def test_with_a_token_everyone_needs_it_even_on_the_nodes_machine(node, monkeypatch, path):
    monkeypatch.setenv("ORCHESTRATOR_ADMIN_TOKEN", "node-admin-secret")
    for client in (REMOTE, LOOPBACK):
        assert (await get(node, path, client)).status_code == 401
        assert (await get(node, path, client, token="wrong")).status_code == 401
        assert (await get(node, path, client, token="node-admin-secret")).status_code == 200


async def test_a_scrape_token_opens_the_metrics_but_not_the_logs(node, settings):
    settings.METRICS_TOKEN = "scrape-only"
    assert (await get(node, "/metrics", REMOTE, token="scrape-only")).status_code == 200
    assert (await get(node, "/metrics", LOOPBACK)).status_code == 401
    assert (await get(node, "/runners", REMOTE, token="scrape-only")).status_code == 403


async def test_info_tells_anyone_each_capabilitys_runner_health_without_logs(node):
    response = await get(node, "/info", REMOTE)
    assert response.status_code == 200
    (capability,) = response.json()["capabilities"]
    assert capability["runner_states"] == {"healthy": 1, "restarting": 2, "down": 1, "restarts": 7}
    assert "CUDA" not in response.text and "log_tail" not in response.text


async def test_the_nodes_own_info_passes_the_gateways_check_unchanged(node):
    """The node builds /info through the schema the gateway and dashboard read it with: nothing is left out."""
    from livepeer_ai.protocol.node_info import checked_info, checked_runners

    served = (await get(node, "/info", REMOTE)).json()
    assert checked_info(served) == (served, "")
    (capability,) = served["capabilities"]
    assert {"capacity", "price_per_unit", "runners", "runner_states", "stats"} <= capability.keys()
    assert served["hardware"] == {"devices": dict(node.config.devices)}
    runners = (await get(node, "/runners", LOOPBACK)).json()["runners"]
    assert checked_runners(runners) == (runners, "")
