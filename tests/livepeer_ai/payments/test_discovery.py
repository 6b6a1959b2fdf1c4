"""The gateway finds orchestrators in the registry's active set when it is on chain."""

from __future__ import annotations

from typing import Any

import pytest

from livepeer_ai.gateway import network
from livepeer_ai.payments import discovery
from livepeer_ai.payments.broker import Broker
from tests.livepeer_ai.payments.conftest import (
    ORCHESTRATOR_A_KEY,
    ORCHESTRATOR_B_KEY,
    ORCHESTRATOR_C_KEY,
    ORCHESTRATOR_STAKES,
    STRANGER_KEY,
    address_of,
)


@pytest.fixture
def on_chain(payments: Any, settings: Any, tmp_path: Any) -> Broker:
    settings.WEB3_PROVIDER_URI = payments.chain.provider_uri
    settings.TICKET_BROKER_ADDRESS = payments.addresses.ticket_broker
    settings.ORCHESTRATOR_REGISTRY_ADDRESS = payments.addresses.registry
    settings.ORCHESTRATOR_URLS = ["http://configured.example:1"]
    discovery.forget()
    yield Broker(payments.chain, payments.addresses)
    discovery.forget()


def uri_of(key: str) -> str:
    return f"https://{address_of(key).lower()}.orchestrators.test:8935"


@pytest.mark.django_db
def test_gateway_discovers_the_active_set_by_stake_not_its_configured_list(on_chain):
    found = discovery.active_orchestrators(on_chain)
    assert [(o.address, o.stake) for o in found] == [
        (address_of(key), stake) for key, stake in sorted(ORCHESTRATOR_STAKES.items(), key=lambda item: -item[1])
    ]
    assert network.service_uris() == [
        uri_of(ORCHESTRATOR_A_KEY),
        uri_of(ORCHESTRATOR_B_KEY),
        uri_of(ORCHESTRATOR_C_KEY),
    ]
    assert [row.service_uri for row in network.known_orchestrators()] == network.service_uris()


@pytest.mark.django_db
def test_a_new_registration_appears_after_the_cache_expires(on_chain, payments):
    discovery.active_orchestrators(on_chain)
    payments.chain.transact(
        payments.registry.functions.register("https://newcomer.test:8935"), STRANGER_KEY, value=10**19
    )
    assert "https://newcomer.test:8935" not in [o.service_uri for o in discovery.active_orchestrators(on_chain)]
    first = discovery.active_orchestrators(on_chain, ttl_s=0)[0]
    assert (first.service_uri, first.stake) == ("https://newcomer.test:8935", 10**19)


@pytest.mark.django_db
def test_a_chain_outage_keeps_the_last_known_list(on_chain, payments):
    known = discovery.active_orchestrators(on_chain)
    from livepeer_ai.payments.chain import Chain

    unreachable = Broker(Chain("http://127.0.0.1:9", request_timeout_s=1), payments.addresses)
    assert discovery.active_orchestrators(unreachable, ttl_s=0) == known
