"""What a ticket is worth, pinned to exact wei: the node's face value and win probability, the
gateway's ticket count, and the sender-float cap, first as pure integer rules, then as the node
(wired from its own config defaults) and the gateway apply them on a real anvil."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from livepeer_ai.orchestrator.config import parse_config
from livepeer_ai.orchestrator.management.commands.run_orchestrator import Command as RunOrchestrator
from livepeer_ai.orchestrator.payment import OnchainPayments
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.recipient import Recipient
from livepeer_ai.payments.sender import GatewaySender
from livepeer_ai.payments.ticket_value import (
    face_value,
    sender_float,
    tickets_to_send,
    tx_cost,
    uncapped_face_value,
    win_probability,
)
from livepeer_ai.payments.tickets import MAX_WIN_PROB, expected_value
from tests.livepeer_ai.payments.conftest import (
    ETH,
    GATEWAY_KEY,
    ORCHESTRATOR_A_KEY,
    OTHER_GATEWAY_KEY,
    address_of,
)

GWEI = 10**9
MANIFEST = "text-to-image_livepeer-ai/tiny-sdxl-turbo"
# 1.2M gas at 0.1 gwei, ×100: the face value go-livepeer's defaults give on an L2.
L2_FACE_VALUE = 12_000_000_000_000_000
# 8 gwei × ⌈(2^256 − 1) / 1.2e16⌉, exactly; the float quotient misses it by ~5e54.
L2_WIN_PROB = 77194726158210796949047323339125271902179989777093709359638392000000000


# The rules, in integer wei


def test_face_value_is_a_hundred_times_the_larger_of_tx_cost_and_ev() -> None:
    assert tx_cost(1_200_000, GWEI // 10) == 120_000_000_000_000
    assert uncapped_face_value(120_000_000_000_000) == L2_FACE_VALUE
    # Cheap gas: the EV (8 gwei by default) sets the face value instead.
    assert uncapped_face_value(1) == 800_000_000_000


def test_face_value_is_capped_by_the_deposit_plus_this_nodes_share_of_the_reserve() -> None:
    # 0.01 ETH of deposit and 0.03 ETH of reserve split over three active nodes.
    assert sender_float(ETH // 100, 3 * ETH // 100, pool_size=3) == 2 * ETH // 100
    assert face_value(L2_FACE_VALUE, float_wei=2 * ETH // 100) == L2_FACE_VALUE
    assert face_value(10 * L2_FACE_VALUE, float_wei=2 * ETH // 100) == 2 * ETH // 100
    assert face_value(L2_FACE_VALUE, float_wei=ETH, max_face_value=10**15) == 10**15
    # No active set yet: the whole reserve backs this node.
    assert sender_float(0, 5, pool_size=0) == 5


@pytest.mark.parametrize("face", [L2_FACE_VALUE, 2 * 10**16, 800_000_000_000, 120_000_000_000_000_001])
def test_win_probability_gives_each_ticket_exactly_the_nodes_ev(face: int) -> None:
    # Rounded through a float, 8e11 and 2e16 would give tickets worth 7,999,999,999 wei.
    assert expected_value(face, win_probability(face, 8 * GWEI)) == 8 * GWEI


def test_win_probability_is_ev_times_the_ceiling_of_max_over_face_value() -> None:
    assert win_probability(L2_FACE_VALUE, 8 * GWEI) == L2_WIN_PROB
    # A face value at or below the EV: a ticket that always wins.
    assert win_probability(8 * GWEI, 8 * GWEI) == MAX_WIN_PROB
    with pytest.raises(ValueError, match="face value must be positive"):
        win_probability(0, 8 * GWEI)


def test_tickets_cover_a_shortfall_near_0_8_eth_to_the_wei() -> None:
    # 0.8 ETH + 1 wei is not a float (spacing 128 wei there): a float count sends 10^8 tickets, one short.
    assert tickets_to_send(8 * 10**17 + 1, 8 * GWEI, credit_wei=0) == 100_000_001
    assert tickets_to_send(8 * 10**17, 8 * GWEI, credit_wei=0) == 100_000_000
    assert tickets_to_send(8 * 10**17 + 1, 8 * GWEI, credit_wei=8 * GWEI) == 100_000_000


def test_tickets_to_send_counts_the_credit_and_at_least_one_ticket_of_ev() -> None:
    assert tickets_to_send(5 * GWEI, 2 * GWEI, credit_wei=0) == 3
    assert tickets_to_send(5 * GWEI, 2 * GWEI, credit_wei=1 * GWEI) == 2
    assert tickets_to_send(5 * GWEI, 2 * GWEI, credit_wei=5 * GWEI) == 0
    assert tickets_to_send(5 * GWEI, 2 * GWEI, credit_wei=9 * GWEI) == 0
    # A fee below one ticket's EV still sends a whole ticket (max(fee, EV)).
    assert tickets_to_send(1, 2 * GWEI, credit_wei=0) == 1


# The node and the gateway, on a real anvil


@pytest.fixture
def broker(payments: Any) -> Broker:
    payments.start_next_round()
    return Broker(payments.chain, payments.addresses)


@pytest.fixture
def node_recipient(broker: Broker, settings: Any, anvil: Any) -> Recipient:
    """The recipient `run_orchestrator` builds from a config that sets no [payments] at all."""
    settings.WEB3_PROVIDER_URI = anvil.url
    settings.TICKET_BROKER_ADDRESS = broker.addresses.ticket_broker
    settings.ORCHESTRATOR_REGISTRY_ADDRESS = broker.addresses.registry
    config = parse_config(
        {
            "node": {"private_key_env": "ORCH_KEY"},
            "capabilities": [{"pipeline": "text-to-image", "model_id": "m", "runners": [{"device": "cpu"}]}],
        }
    )
    node_payments = RunOrchestrator().payments(config, Account.from_key(ORCHESTRATOR_A_KEY))
    assert isinstance(node_payments, OnchainPayments)
    return node_payments.recipient


@pytest.mark.django_db
def test_the_node_prices_tickets_at_a_hundred_times_the_l2_redemption_cost(node_recipient, broker):
    gas_price = broker.gas_price()
    params = node_recipient.ticket_params(address_of(GATEWAY_KEY), price_per_unit=1, pixels_per_unit=1)
    # 1.2M gas × 100, at whatever anvil charges for gas in this block; far below the gateway's float.
    assert params.face_value == 120_000_000 * gas_price
    assert params.win_prob == 8 * GWEI * -(-MAX_WIN_PROB // params.face_value)
    assert expected_value(params.face_value, params.win_prob) == 8 * GWEI


@pytest.mark.django_db
def test_the_node_caps_the_face_value_at_the_senders_deposit_and_reserve_share(node_recipient, broker, payments):
    payments.chain.transact(
        payments.broker.functions.fundDepositAndReserve(ETH // 100, 3 * ETH // 100),
        OTHER_GATEWAY_KEY,
        value=4 * ETH // 100,
    )
    assert broker.pool_size() == 3
    params = node_recipient.ticket_params(address_of(OTHER_GATEWAY_KEY), price_per_unit=1, pixels_per_unit=1)
    # 0.01 ETH deposit + 0.03 ETH reserve / 3 nodes, well under 1.2M gas × 100 at anvil's price.
    assert params.face_value == 2 * ETH // 100
    assert expected_value(params.face_value, params.win_prob) == 8 * GWEI


@pytest.mark.django_db
def test_a_large_shortfall_is_paid_in_full_and_the_node_credits_it(broker):
    # Tickets of 0.01 ETH EV, so a shortfall of 0.3 ETH + 1 wei (above 2^53 wei) takes 31, not 30.
    recipient = Recipient.with_new_secret(
        address_of(ORCHESTRATOR_A_KEY), broker, ticket_ev=10**16, redeem_gas=100_000, tx_cost_multiplier=2
    )
    sender = GatewaySender(Account.from_key(GATEWAY_KEY), broker, max_ticket_ev=10**16, max_total_ev=10**18)
    fee = 3 * 10**17 + 1
    params = recipient.ticket_params(sender.address, price_per_unit=1, pixels_per_unit=1)
    payment = sender.pay(params, fee, MANIFEST)
    assert len(payment.tickets) == 31
    assert recipient.receive(payment, MANIFEST) == 31 * 10**16
    # The node runs the job only if the sender's balance covers its fee (OnchainPayments.process_payment).
    assert recipient.balance(sender.address, MANIFEST) >= fee
