"""On chain a node's address is the one the registry maps to its service URI, whatever its /info says."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from livepeer_ai.gateway import network
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.payments import discovery
from livepeer_ai.payments.discovery import DiscoveredOrchestrator
from tests.conftest import serve

REGISTERED = Account.create().address
CLAIMED = Account.create().address


def node_app(address: str) -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/info")
    async def info() -> dict[str, Any]:
        return {"address": address, "capabilities": []}

    return app


@pytest.mark.django_db
def test_on_chain_the_gateway_keeps_the_registered_address_not_the_one_info_claims(settings, monkeypatch):
    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:9"  # never called: the chain's answer is given below
    with serve(node_app(CLAIMED)) as node_url:
        monkeypatch.setattr(
            discovery, "active_orchestrators", lambda: [DiscoveredOrchestrator(REGISTERED, node_url, 10**18)]
        )
        (row,) = network.known_orchestrators()
        network.refresh_info(row, force=True)
    assert row.reachable and row.info["address"] == CLAIMED
    assert Orchestrator.objects.get(service_uri=node_url).address == REGISTERED


@pytest.mark.django_db
def test_off_chain_the_gateway_takes_the_address_from_info(settings):
    settings.WEB3_PROVIDER_URI = ""
    with serve(node_app(CLAIMED)) as node_url:
        settings.ORCHESTRATOR_URLS = [node_url]
        (row,) = network.known_orchestrators()
        network.refresh_info(row, force=True)
    assert Orchestrator.objects.get(service_uri=node_url).address == CLAIMED
