"""Unlock and withdrawal by rounds (docs/protocol.md §3.4, Livepeer's MixinTicketBrokerCore)."""

from __future__ import annotations

import pytest

from livepeer_ai.payments.chain import ContractReverted

from .conftest import (
    GATEWAY_DEPOSIT,
    GATEWAY_KEY,
    GATEWAY_RESERVE,
    STRANGER_KEY,
    UNLOCK_PERIOD_ROUNDS,
    Payments,
    address_of,
)


def unlock(payments: Payments) -> int:
    """Unlock the gateway; returns its withdraw round."""
    receipt = payments.chain.transact(payments.broker.functions.unlock(), GATEWAY_KEY)
    [event] = payments.events(receipt, "Unlock")
    assert event["endRound"] == event["startRound"] + UNLOCK_PERIOD_ROUNDS
    assert payments.broker.functions.isUnlockInProgress(address_of(GATEWAY_KEY)).call() is True
    return int(event["endRound"])


def test_withdraw_is_refused_until_the_unlock_period_has_passed(payments: Payments) -> None:
    withdraw_round = unlock(payments)
    with pytest.raises(ContractReverted, match="account is locked"):
        payments.chain.transact(payments.broker.functions.withdraw(), GATEWAY_KEY)
    payments.mine_to_round(withdraw_round - 1)
    with pytest.raises(ContractReverted, match="account is locked"):
        payments.chain.transact(payments.broker.functions.withdraw(), GATEWAY_KEY)

    payments.mine_to_round(withdraw_round)
    gateway = address_of(GATEWAY_KEY)
    before = payments.chain.balance_of(gateway)
    receipt = payments.chain.transact(payments.broker.functions.withdraw(), GATEWAY_KEY)
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert payments.chain.balance_of(gateway) - before == GATEWAY_DEPOSIT + GATEWAY_RESERVE - gas_cost
    assert payments.events(receipt, "Withdrawal") == [
        {"sender": gateway, "deposit": GATEWAY_DEPOSIT, "reserve": GATEWAY_RESERVE}
    ]
    assert payments.sender_info() == (0, 0, 0, 0)
    with pytest.raises(ContractReverted, match="sender deposit and reserve are zero"):
        payments.chain.transact(payments.broker.functions.withdraw(), GATEWAY_KEY)


def test_withdraw_without_unlock_is_refused(payments: Payments) -> None:
    with pytest.raises(ContractReverted, match="no unlock request in progress"):
        payments.chain.transact(payments.broker.functions.withdraw(), GATEWAY_KEY)


def test_cancel_unlock_locks_the_funds_again(payments: Payments) -> None:
    withdraw_round = unlock(payments)
    receipt = payments.chain.transact(payments.broker.functions.cancelUnlock(), GATEWAY_KEY)
    assert payments.events(receipt, "UnlockCancelled") == [{"sender": address_of(GATEWAY_KEY)}]
    assert payments.broker.functions.isUnlockInProgress(address_of(GATEWAY_KEY)).call() is False
    payments.mine_to_round(withdraw_round)
    with pytest.raises(ContractReverted, match="no unlock request in progress"):
        payments.chain.transact(payments.broker.functions.withdraw(), GATEWAY_KEY)
    with pytest.raises(ContractReverted, match="no unlock request in progress"):
        payments.chain.transact(payments.broker.functions.cancelUnlock(), GATEWAY_KEY)


def test_new_funds_cancel_an_unlock(payments: Payments) -> None:
    unlock(payments)
    receipt = payments.chain.transact(payments.broker.functions.fundDeposit(), GATEWAY_KEY, value=1)
    assert payments.events(receipt, "UnlockCancelled") == [{"sender": address_of(GATEWAY_KEY)}]
    assert payments.sender_info()[:2] == (GATEWAY_DEPOSIT + 1, 0)


def test_unlock_twice_or_with_nothing_to_unlock_is_refused(payments: Payments) -> None:
    unlock(payments)
    with pytest.raises(ContractReverted, match="unlock already initiated"):
        payments.chain.transact(payments.broker.functions.unlock(), GATEWAY_KEY)
    with pytest.raises(ContractReverted, match="sender deposit and reserve are zero"):
        payments.chain.transact(payments.broker.functions.unlock(), STRANGER_KEY)


def test_a_sender_in_unlock_is_redeemable_until_its_withdraw_round(payments: Payments) -> None:
    withdraw_round = unlock(payments)
    payments.redeem(payments.sign())
    while payments.current_round() < withdraw_round:
        payments.start_next_round()
    with pytest.raises(ContractReverted, match="sender is unlocked"):
        payments.redeem(payments.sign())
