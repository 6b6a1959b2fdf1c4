"""The sender's reserve: pays what the deposit cannot, at most reserve/poolSize
per active orchestrator per round (docs/protocol.md §3.4, Livepeer's MixinReserve)."""

from __future__ import annotations

import pytest

from livepeer_ai.payments.chain import ContractReverted

from .conftest import (
    ETH,
    GATEWAY_KEY,
    ORCHESTRATOR_A_KEY,
    ORCHESTRATOR_B_KEY,
    OTHER_GATEWAY_KEY,
    STRANGER_KEY,
    Payments,
    address_of,
)

DEPOSIT = ETH // 10
RESERVE = 3 * ETH  # three orchestrators in the pool: 1 ETH each per round


@pytest.fixture
def short_gateway(payments: Payments) -> Payments:
    """A gateway whose deposit is short and whose reserve is 3 ETH, funded at the
    start of a fresh round so every claim below falls in that round."""
    payments.start_next_round()
    payments.chain.transact(
        payments.broker.functions.fundDepositAndReserve(DEPOSIT, RESERVE), OTHER_GATEWAY_KEY, value=DEPOSIT + RESERVE
    )
    return payments


def redeem_and_measure(payments: Payments, recipient_key: str, face_value: int) -> tuple[int, list[dict[str, object]]]:
    recipient = address_of(recipient_key)
    before = payments.chain.balance_of(recipient)
    receipt = payments.redeem(payments.sign(sender_key=OTHER_GATEWAY_KEY, recipient=recipient, face_value=face_value))
    return payments.chain.balance_of(recipient) - before, payments.events(receipt, "ReserveClaimed")


def test_reserve_covers_what_the_deposit_cannot(short_gateway: Payments) -> None:
    holder, recipient = address_of(OTHER_GATEWAY_KEY), address_of(ORCHESTRATOR_A_KEY)
    paid, claims = redeem_and_measure(short_gateway, ORCHESTRATOR_A_KEY, ETH // 2)
    assert paid == ETH // 2
    assert claims == [{"reserveHolder": holder, "claimant": recipient, "amount": ETH // 2 - DEPOSIT}]
    deposit, _, funds_remaining, claimed_this_round = short_gateway.sender_info(OTHER_GATEWAY_KEY)
    assert (deposit, funds_remaining, claimed_this_round) == (0, RESERVE - (ETH // 2 - DEPOSIT), ETH // 2 - DEPOSIT)
    assert short_gateway.broker.functions.claimedReserve(holder, recipient).call() == ETH // 2 - DEPOSIT
    # Allowance: (remaining + claimed this round) / pool size, minus what A already took.
    assert short_gateway.broker.functions.claimableReserve(holder, recipient).call() == ETH - (ETH // 2 - DEPOSIT)


def test_reserve_claims_are_capped_per_recipient_per_round(short_gateway: Payments) -> None:
    holder = address_of(OTHER_GATEWAY_KEY)
    first, _ = redeem_and_measure(short_gateway, ORCHESTRATOR_A_KEY, ETH // 2)
    second, _ = redeem_and_measure(short_gateway, ORCHESTRATOR_A_KEY, ETH)
    # A's share of the reserve this round is 1 ETH; the deposit paid 0.1 ETH on top.
    assert first + second == ETH + DEPOSIT
    assert short_gateway.broker.functions.claimableReserve(holder, address_of(ORCHESTRATOR_A_KEY)).call() == 0

    # A third winner for A this round is redeemed (and used up) but pays nothing.
    third, claims = redeem_and_measure(short_gateway, ORCHESTRATOR_A_KEY, ETH // 10)
    assert (third, claims) == (0, [])

    # B's share is untouched by A's claims.
    for_b, _ = redeem_and_measure(short_gateway, ORCHESTRATOR_B_KEY, 2 * ETH)
    assert for_b == ETH
    assert short_gateway.sender_info(OTHER_GATEWAY_KEY)[2:] == (RESERVE - 2 * ETH, 2 * ETH)

    # A new round resets the shares: each gets a third of what remains.
    short_gateway.start_next_round()
    next_round, _ = redeem_and_measure(short_gateway, ORCHESTRATOR_A_KEY, ETH)
    assert next_round == (RESERVE - 2 * ETH) // 3


def test_reserve_pays_only_active_orchestrators(short_gateway: Payments) -> None:
    paid, claims = redeem_and_measure(short_gateway, STRANGER_KEY, ETH // 2)
    assert (paid, claims) == (DEPOSIT, [])  # the deposit pays anyone; the reserve only the active set
    holder = address_of(OTHER_GATEWAY_KEY)
    assert short_gateway.broker.functions.claimableReserve(holder, address_of(STRANGER_KEY)).call() == 0


def test_fund_deposit_and_reserve_for_credits_another_sender(payments: Payments) -> None:
    receipt = payments.chain.transact(
        payments.broker.functions.fundDepositAndReserveFor(address_of(STRANGER_KEY), 2, 3), GATEWAY_KEY, value=5
    )
    assert payments.sender_info(STRANGER_KEY) == (2, 0, 3, 0)
    assert payments.events(receipt, "DepositFunded") == [{"sender": address_of(STRANGER_KEY), "amount": 2}]
    assert payments.events(receipt, "ReserveFunded") == [{"reserveHolder": address_of(STRANGER_KEY), "amount": 3}]


def test_funding_must_split_msg_value_exactly(payments: Payments) -> None:
    with pytest.raises(ContractReverted, match="msg.value does not equal sum of deposit amount and reserve amount"):
        payments.chain.transact(payments.broker.functions.fundDepositAndReserve(2, 3), GATEWAY_KEY, value=4)
    with pytest.raises(ContractReverted, match="no funds sent"):
        payments.chain.transact(payments.broker.functions.fundDeposit(), GATEWAY_KEY)


def test_fund_deposit_and_fund_reserve_add_up(payments: Payments) -> None:
    payments.chain.transact(payments.broker.functions.fundDeposit(), STRANGER_KEY, value=7)
    payments.chain.transact(payments.broker.functions.fundReserve(), STRANGER_KEY, value=11)
    payments.chain.transact(payments.broker.functions.fundDeposit(), STRANGER_KEY, value=1)
    assert payments.sender_info(STRANGER_KEY) == (8, 0, 11, 0)
    info = payments.broker.functions.getReserveInfo(address_of(STRANGER_KEY)).call()
    assert tuple(info) == (11, 0)
