"""batchRedeemWinningTickets: many winners in one transaction; a bad one is
skipped, not fatal (Livepeer's MixinWrappers)."""

from __future__ import annotations

import pytest
from web3.types import TxReceipt

from livepeer_ai.payments.chain import ContractReverted
from livepeer_ai.payments.tickets import ticket_hash

from .conftest import (
    ETH,
    GATEWAY_DEPOSIT,
    ORCHESTRATOR_A_KEY,
    ROUND_LENGTH_BLOCKS,
    STRANGER_KEY,
    Payments,
    SignedTicket,
    address_of,
)


def batch_redeem(payments: Payments, tickets: list[SignedTicket]) -> TxReceipt:
    function = payments.broker.functions.batchRedeemWinningTickets(
        [signed.ticket.as_contract_tuple() for signed in tickets],
        [signed.signature for signed in tickets],
        [signed.recipient_rand for signed in tickets],
    )
    return payments.chain.transact(function, STRANGER_KEY)


def test_batch_pays_every_winning_ticket(payments: Payments) -> None:
    recipient = address_of(ORCHESTRATOR_A_KEY)
    tickets = [payments.sign(recipient=recipient, face_value=ETH // 100) for _ in range(10)]
    before = payments.chain.balance_of(recipient)
    receipt = batch_redeem(payments, tickets)
    assert payments.chain.balance_of(recipient) - before == 10 * (ETH // 100)
    assert [event["senderNonce"] for event in payments.events(receipt, "WinningTicketRedeemed")] == [
        signed.ticket.sender_nonce for signed in tickets
    ]
    assert all(payments.broker.functions.usedTickets(ticket_hash(s.ticket)).call() for s in tickets)
    assert payments.sender_info()[0] == GATEWAY_DEPOSIT - 10 * (ETH // 100)


def test_batch_skips_tickets_that_fail_and_pays_the_rest(payments: Payments) -> None:
    recipient = address_of(ORCHESTRATOR_A_KEY)
    already_redeemed = payments.sign(recipient=recipient)
    payments.redeem(already_redeemed)
    good = [payments.sign(recipient=recipient, face_value=ETH // 50) for _ in range(2)]
    forged = payments.sign(recipient=recipient, signer_key=STRANGER_KEY)
    wrong_rand = payments.sign(recipient=recipient)
    wrong_rand = SignedTicket(wrong_rand.ticket, wrong_rand.signature, wrong_rand.recipient_rand + 1)

    before = payments.chain.balance_of(recipient)
    receipt = batch_redeem(payments, [good[0], already_redeemed, forged, wrong_rand, good[1]])
    assert payments.chain.balance_of(recipient) - before == 2 * (ETH // 50)
    redeemed = [event["senderNonce"] for event in payments.events(receipt, "WinningTicketRedeemed")]
    assert redeemed == [good[0].ticket.sender_nonce, good[1].ticket.sender_nonce]


def test_batch_arrays_must_have_equal_lengths(payments: Payments) -> None:
    tickets = [payments.sign(), payments.sign()]
    function = payments.broker.functions.batchRedeemWinningTickets(
        [signed.ticket.as_contract_tuple() for signed in tickets],
        [tickets[0].signature],
        [signed.recipient_rand for signed in tickets],
    )
    with pytest.raises(ContractReverted, match="array lengths differ"):
        payments.chain.transact(function, STRANGER_KEY)


def test_batch_needs_an_initialized_current_round(payments: Payments) -> None:
    tickets = [payments.sign()]
    payments.mine(ROUND_LENGTH_BLOCKS)
    with pytest.raises(ContractReverted, match="current round is not initialized"):
        batch_redeem(payments, tickets)


def test_a_batch_short_of_gas_fails_instead_of_skipping_winners(payments: Payments) -> None:
    recipient = address_of(ORCHESTRATOR_A_KEY)
    tickets = [payments.sign(recipient=recipient, face_value=ETH // 100) for _ in range(5)]
    function = payments.broker.functions.batchRedeemWinningTickets(
        [signed.ticket.as_contract_tuple() for signed in tickets],
        [signed.signature for signed in tickets],
        [signed.recipient_rand for signed in tickets],
    )
    call = {
        "from": address_of(STRANGER_KEY),
        "to": payments.broker.address,
        "data": function._encode_transaction_data(),
    }
    needed = payments.chain.w3.eth.estimate_gas(call, block_identifier="pending")  # type: ignore[arg-type]
    before = payments.chain.balance_of(recipient)
    reasons = set()
    # Whichever redemption the gas limit starves, the batch fails as a whole:
    # our check reports it, or the EVM halts on out-of-gas right after.
    for shortfall in (1_000, 30_000, 60_000, 100_000):
        with pytest.raises(ContractReverted) as raised:
            payments.chain.transact(function, STRANGER_KEY, gas=needed - shortfall)
        assert raised.value.receipt is not None and raised.value.receipt["status"] == 0  # mined, then explained
        reasons.add(raised.value.reason)
    assert payments.chain.balance_of(recipient) == before
    assert "batch ran out of gas" in reasons and reasons <= {"batch ran out of gas", "EVM error OutOfGas"}
    payments.chain.transact(function, STRANGER_KEY, gas=needed)
    assert payments.chain.balance_of(recipient) - before == 5 * (ETH // 100)
