"""Redeeming single winning tickets on the TicketBroker (docs/protocol.md §3.1, §3.4)."""

from __future__ import annotations

import pytest

from livepeer_ai.payments.chain import ContractReverted
from livepeer_ai.payments.tickets import (
    MAX_WIN_PROB,
    SECP256K1_N,
    Ticket,
    aux_data_for,
    is_winning_ticket,
    recover_ticket_signer,
    ticket_hash,
)

from .conftest import (
    ETH,
    GATEWAY_DEPOSIT,
    GATEWAY_KEY,
    GATEWAY_RESERVE,
    ORCHESTRATOR_A_KEY,
    ORCHESTRATOR_B_KEY,
    ROUND_LENGTH_BLOCKS,
    STRANGER_KEY,
    TICKET_VALIDITY_PERIOD_ROUNDS,
    Payments,
    SignedTicket,
    address_of,
)


def test_get_ticket_hash_equals_python_ticket_hash(payments: Payments) -> None:
    tickets = [
        payments.sign().ticket,
        payments.sign(face_value=2**256 - 1, win_prob=1, sender_nonce=2**255 + 17).ticket,
        payments.sign(face_value=0, win_prob=0, sender_nonce=0, aux_data=aux_data_for(2**200, b"\xfe" * 32)).ticket,
        Ticket(address_of(ORCHESTRATOR_B_KEY), address_of(STRANGER_KEY), 1, 2, 3, b"\x07" * 32, b""),
    ]
    for ticket in tickets:
        assert bytes(payments.broker.functions.getTicketHash(ticket.as_contract_tuple()).call()) == ticket_hash(ticket)


def test_onchain_signature_recovery_agrees_with_python(payments: Payments) -> None:
    for nonce in range(1, 6):
        signed = payments.sign(sender_nonce=nonce)
        digest = ticket_hash(signed.ticket)
        onchain = payments.broker.functions.recoverTicketSigner(digest, signed.signature).call()
        assert onchain == recover_ticket_signer(digest, signed.signature) == address_of(GATEWAY_KEY)
    forged = payments.sign(signer_key=STRANGER_KEY)
    digest = ticket_hash(forged.ticket)
    assert payments.broker.functions.recoverTicketSigner(digest, forged.signature).call() == address_of(STRANGER_KEY)


def test_winning_ticket_pays_its_face_value_to_the_recipient_from_the_deposit(payments: Payments) -> None:
    recipient = address_of(ORCHESTRATOR_A_KEY)
    signed = payments.sign(recipient=recipient, face_value=ETH // 4)
    balance_before = payments.chain.balance_of(recipient)
    broker_before = payments.chain.balance_of(payments.addresses.ticket_broker)

    receipt = payments.redeem(signed)  # submitted by a relayer: anyone may redeem

    assert payments.chain.balance_of(recipient) - balance_before == ETH // 4
    assert broker_before - payments.chain.balance_of(payments.addresses.ticket_broker) == ETH // 4
    assert payments.sender_info() == (GATEWAY_DEPOSIT - ETH // 4, 0, GATEWAY_RESERVE, 0)
    assert payments.broker.functions.usedTickets(ticket_hash(signed.ticket)).call() is True
    [transfer] = payments.events(receipt, "WinningTicketTransfer")
    assert transfer == {"sender": address_of(GATEWAY_KEY), "recipient": recipient, "amount": ETH // 4}
    [redeemed] = payments.events(receipt, "WinningTicketRedeemed")
    assert redeemed["faceValue"] == ETH // 4 and redeemed["recipientRand"] == signed.recipient_rand
    assert redeemed["senderNonce"] == signed.ticket.sender_nonce and redeemed["auxData"] == signed.ticket.aux_data
    assert payments.events(receipt, "ReserveClaimed") == []


def first_ticket_that(wins: bool, payments: Payments, win_prob: int) -> SignedTicket:
    """The first of a run of nonces whose ticket wins (or loses) by Python's win test."""
    for nonce in range(100, 200):
        signed = payments.sign(win_prob=win_prob, sender_nonce=nonce)
        if is_winning_ticket(signed.signature, signed.recipient_rand, win_prob) == wins:
            return signed
    raise AssertionError("no such ticket in 100 nonces at 1/2")


def test_a_ticket_python_calls_a_winner_at_one_in_two_is_paid(payments: Payments) -> None:
    winner = first_ticket_that(True, payments, MAX_WIN_PROB // 2)
    payments.redeem(winner)
    assert payments.sender_info()[0] == GATEWAY_DEPOSIT - winner.ticket.face_value


def test_rejects_a_losing_ticket(payments: Payments) -> None:
    loser = first_ticket_that(False, payments, MAX_WIN_PROB // 2)
    with pytest.raises(ContractReverted, match="ticket did not win"):
        payments.redeem(loser)


def test_rejects_a_ticket_signed_by_someone_other_than_its_sender(payments: Payments) -> None:
    with pytest.raises(ContractReverted, match="invalid signature over ticket hash"):
        payments.redeem(payments.sign(signer_key=STRANGER_KEY))


def test_rejects_a_signature_lifted_from_another_ticket(payments: Payments) -> None:
    original = payments.sign(face_value=ETH // 100)
    inflated = payments.sign(face_value=ETH // 2, sender_nonce=original.ticket.sender_nonce)
    with pytest.raises(ContractReverted, match="invalid signature over ticket hash"):
        payments.redeem(SignedTicket(inflated.ticket, original.signature, inflated.recipient_rand))


def test_rejects_the_high_s_twin_of_a_valid_signature(payments: Payments) -> None:
    signed = payments.sign()
    s = int.from_bytes(signed.signature[32:64], "big")
    twin = signed.signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signed.signature[64]])
    with pytest.raises(ContractReverted, match="invalid signature 's' value"):
        payments.redeem(SignedTicket(signed.ticket, twin, signed.recipient_rand))


def test_rejects_the_wrong_recipient_rand(payments: Payments) -> None:
    signed = payments.sign()
    with pytest.raises(ContractReverted, match="recipientRand does not match recipientRandHash"):
        payments.redeem(SignedTicket(signed.ticket, signed.signature, signed.recipient_rand + 1))


def test_rejects_a_ticket_redeemed_twice(payments: Payments) -> None:
    signed = payments.sign()
    payments.redeem(signed)
    with pytest.raises(ContractReverted, match="ticket is used"):
        payments.redeem(signed, submitter_key=ORCHESTRATOR_A_KEY)
    assert payments.sender_info()[0] == GATEWAY_DEPOSIT - signed.ticket.face_value


def test_rejects_a_ticket_past_its_validity_period(payments: Payments) -> None:
    signed = payments.sign()
    creation_round = signed.ticket.creation_round
    # Still good in its last valid round...
    while payments.current_round() < creation_round + TICKET_VALIDITY_PERIOD_ROUNDS - 1:
        payments.start_next_round()
    late = payments.sign(sender_nonce=signed.ticket.sender_nonce + 1000, aux_data=signed.ticket.aux_data)
    payments.redeem(late)
    assert payments.current_round() == creation_round + TICKET_VALIDITY_PERIOD_ROUNDS - 1
    # ...expired from creationRound + ticketValidityPeriod on.
    payments.start_next_round()
    with pytest.raises(ContractReverted, match="ticket is expired"):
        payments.redeem(signed)


def test_rejects_a_block_hash_that_is_not_the_creation_rounds(payments: Payments) -> None:
    signed = payments.sign(aux_data=aux_data_for(payments.current_round(), b"\x01" * 32))
    with pytest.raises(ContractReverted, match="ticket creationRoundBlockHash invalid for creationRound"):
        payments.redeem(signed)


def test_rejects_a_creation_round_never_initialized(payments: Payments) -> None:
    payments.start_next_round()
    aux_data = aux_data_for(payments.current_round() + 1, b"\x01" * 32)
    with pytest.raises(ContractReverted, match="ticket creationRound does not have a block hash"):
        payments.redeem(payments.sign(aux_data=aux_data))


def test_rejects_aux_data_that_is_not_64_bytes(payments: Payments) -> None:
    ticket, signature, rand = payments.sign().redeem_args
    with pytest.raises(ContractReverted, match="invalid length for ticket auxData: must be 64 bytes"):
        payments.chain.transact(
            payments.broker.functions.redeemWinningTicket((*ticket[:6], ticket[6][:32]), signature, rand), STRANGER_KEY
        )


def test_refuses_redemption_while_the_current_round_is_not_initialized(payments: Payments) -> None:
    signed = payments.sign()
    payments.mine(ROUND_LENGTH_BLOCKS)
    with pytest.raises(ContractReverted, match="current round is not initialized"):
        payments.redeem(signed)
    payments.chain.transact(payments.registry.functions.initializeRound(), STRANGER_KEY)
    payments.redeem(signed)


def test_rejects_a_ticket_from_a_sender_with_no_funds(payments: Payments) -> None:
    with pytest.raises(ContractReverted, match="sender deposit and reserve are zero"):
        payments.redeem(payments.sign(sender_key=STRANGER_KEY))
