"""The live parts: the beat task fetches real nodes and pushes fresh fragments over Channels."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from eth_account import Account
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from dashboard import tasks
from dashboard.models import NodeSnapshot
from dashboard.routing import websocket_urlpatterns
from dashboard.snapshots import refresh_all
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.payments.discovery import DiscoveredOrchestrator
from livepeer_ai.payments.models import RedemptionStatus
from tests.conftest import HTTP, OPERATOR_KEY, orchestrator_node, serve, wait_for
from tests.dashboard.factories import make_ticket

IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def stub_runner() -> tuple[FastAPI, dict[str, bool]]:
    """Only a runner's /health, which the test can make fail: the node's supervisor does the rest."""
    state = {"healthy": True}
    app = FastAPI()

    @app.get("/health")
    async def health() -> Any:
        if state["healthy"]:
            return {"status": "IDLE"}
        return JSONResponse({"status": "ERROR"}, status_code=500)

    return app, state


def capacity_of(node_url: str) -> int:
    return int(HTTP.get(f"{node_url}/info", timeout=5).json()["capabilities"][0]["capacity"])


async def watch(path: str, user: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_the_refresh_pushes_a_nodes_capacity_as_its_runners_fail(personas, settings, tmp_path):
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYER
    settings.WEB3_PROVIDER_URI = ""
    runner_app, runner = stub_runner()
    with (
        serve(runner_app) as runner_url,
        orchestrator_node({"text-to-image": runner_url}, tmp_path, identity=Account.from_key(OPERATOR_KEY)) as node_url,
    ):
        settings.ORCHESTRATOR_URLS = [node_url]
        assert await database_sync_to_async(tasks.refresh_network)() == 1
        orchestrator = await database_sync_to_async(Orchestrator.objects.get)(service_uri=node_url)
        assert orchestrator.address == personas.operator_address

        page = await watch(f"/ws/dashboard/nodes/{personas.operator_address}/", personas.operator)
        network = await watch("/ws/network/", personas.member)
        on_connect = await page.receive_from()
        assert 'hx-swap-oob="true"' in on_connect and 'data-in-use="0" data-idle="1"' in on_connect
        assert "1 healthy" in on_connect
        assert 'id="orchestrators"' in await network.receive_from()

        runner["healthy"] = False
        wait_for(lambda: capacity_of(node_url) == 0, 20, "the node to see its runner fail")
        await database_sync_to_async(tasks.refresh_network)()

        pushed = await page.receive_from(timeout=5)
        assert 'data-in-use="0" data-idle="0"' in pushed and "0 healthy" in pushed and "1 restarting" in pushed
        assert "health check failed" in pushed
        to_everyone = await network.receive_from(timeout=5)
        assert f'data-service-uri="{node_url}"' in to_everyone and "0 / 0" in to_everyone
        await page.disconnect()
        await network.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_new_redemption_reaches_the_network_feed_on_the_next_refresh(personas, settings):
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYER
    settings.WEB3_PROVIDER_URI = ""
    settings.ORCHESTRATOR_URLS = []
    network = await watch("/ws/network/", None)
    assert "No winning ticket redeemed yet" in await network.receive_from()
    await database_sync_to_async(make_ticket)(
        personas.operator_address,
        winning=True,
        status=RedemptionStatus.REDEEMED,
        redeemed_at=timezone.now(),
        tx_hash="0x" + "5a" * 32,
    )
    await database_sync_to_async(tasks.refresh_network)()
    pushed = await network.receive_from(timeout=5)
    assert 'id="redemptions" hx-swap-oob="true"' in pushed and "0x" + "5a" * 32 in pushed
    await network.disconnect()


@pytest.mark.django_db
def test_on_chain_the_refresh_records_stakes_and_forgets_nodes_that_left(client, personas, settings):
    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:9"  # never called: discovery is given below
    left = Orchestrator.objects.create(service_uri="http://left.example")
    NodeSnapshot.objects.create(orchestrator=left, reachable=True)
    found = [DiscoveredOrchestrator(personas.operator_address, "http://127.0.0.1:9/", 5 * 10**18)]

    snapshots = refresh_all(discover=lambda: found)

    assert [(s.orchestrator.service_uri, s.stake, s.reachable) for s in snapshots] == [
        ("http://127.0.0.1:9", 5 * 10**18, False)
    ]
    assert snapshots[0].error.startswith("/info failed")
    assert not NodeSnapshot.objects.get(orchestrator=left).active
    html = client.get("/network/").content.decode()
    assert "5 ETH" in html and "unreachable" in html and "http://left.example" not in html
    assert "Stake is read from the chain" in html
