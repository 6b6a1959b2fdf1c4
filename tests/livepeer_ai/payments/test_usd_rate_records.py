"""Each received ticket and each job keeps the ETH/USD rate of its time: history does not move
with today's price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from livepeer_ai.gateway.models import Job
from livepeer_ai.gateway.workflow import create_gif_job
from livepeer_ai.payments.amounts import usd
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.models import ReceivedTicket
from livepeer_ai.payments.recipient import Recipient
from livepeer_ai.payments.sender import GatewaySender
from tests.livepeer_ai.payments.conftest import DEPLOYER_KEY, GATEWAY_KEY, ORCHESTRATOR_A_KEY, address_of

pytestmark = pytest.mark.django_db

MANIFEST = "text-to-image_livepeer-ai/tiny-sdxl-turbo"
EV = 10**15


@pytest.fixture
def broker(payments: Any) -> Broker:
    payments.start_next_round()
    return Broker(payments.chain, payments.addresses)


@pytest.fixture
def rate_settings(anvil: Any, settings: Any) -> Any:
    settings.WEB3_PROVIDER_URI = anvil.url
    settings.TICKET_BROKER_ADDRESS = settings.ORCHESTRATOR_REGISTRY_ADDRESS = "0x" + "00" * 20
    settings.ETH_USD_FEED_ADDRESS = ""
    settings.ETH_USD_PRICE = None
    settings.ETH_USD_CACHE_S = 0
    return settings


def receive_one_payment(broker: Broker) -> list[ReceivedTicket]:
    recipient = Recipient.with_new_secret(
        address_of(ORCHESTRATOR_A_KEY), broker, ticket_ev=EV, redeem_gas=100_000, tx_cost_multiplier=2
    )
    sender = GatewaySender(Account.from_key(GATEWAY_KEY), broker, max_ticket_ev=10**16, max_total_ev=10**18)
    before = set(ReceivedTicket.objects.values_list("id", flat=True))
    params = recipient.ticket_params(sender.address, price_per_unit=1, pixels_per_unit=1)
    recipient.receive(sender.pay(params, 2 * EV, MANIFEST), MANIFEST)
    # The job's fee is spent on both sides, so the next payment sends new tickets.
    recipient.debit(sender.address, MANIFEST, 2 * EV)
    sender.charge(recipient.address, MANIFEST, 2 * EV)
    return list(ReceivedTicket.objects.exclude(id__in=before))


def test_tickets_keep_the_feed_rate_they_arrived_at(broker, payments, rate_settings):
    feed = payments.chain.deploy_eth_usd_feed(DEPLOYER_KEY, 3012_45000000)
    rate_settings.ETH_USD_FEED_ADDRESS = feed
    first = receive_one_payment(broker)
    assert first and {(t.usd_per_eth_e8, t.usd_rate_source) for t in first} == {(3012_45000000, "feed")}
    payments.chain.transact(payments.chain.eth_usd_feed(feed).functions.setAnswer(1500_00000000), DEPLOYER_KEY)
    later = receive_one_payment(broker)
    assert {t.usd_per_eth for t in later} == {Decimal("1500")}
    # The first tickets still read at their own rate: 1e15 wei EV at $3,012.45.
    ticket = ReceivedTicket.objects.get(id=first[0].id)
    assert ticket.usd_per_eth == Decimal("3012.45") and usd(ticket.expected_value, ticket.usd_per_eth) == "$3.01"


def test_tickets_without_a_rate_record_none_and_a_configured_one_says_so(broker, rate_settings):
    assert {(t.usd_per_eth_e8, t.usd_rate_source) for t in receive_one_payment(broker)} == {(None, "")}
    rate_settings.ETH_USD_PRICE = Decimal("2999.99")
    assert {(t.usd_per_eth_e8, t.usd_rate_source) for t in receive_one_payment(broker)} == {
        (2999_99000000, "configured")
    }


def test_a_job_keeps_the_rate_it_was_submitted_at(settings):
    settings.WEB3_PROVIDER_URI = settings.ETH_USD_FEED_ADDRESS = ""
    settings.ETH_USD_PRICE = Decimal("3000.123456789")  # more places than a rate keeps: rounded to 8
    job = create_gif_job("a lighthouse")
    settings.ETH_USD_PRICE = Decimal("100")
    job = Job.objects.get(id=job.id)
    assert (job.usd_per_eth_e8, job.usd_rate_source) == (3000_12345679, "configured")
    assert job.usd_per_eth == Decimal("3000.12345679")
    settings.ETH_USD_PRICE = None
    unpriced = Job.objects.get(id=create_gif_job("a harbour").id)
    assert (unpriced.usd_per_eth_e8, unpriced.usd_rate_source, unpriced.usd_per_eth) == (None, "", None)
