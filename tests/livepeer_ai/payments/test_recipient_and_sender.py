"""Gateway pays, orchestrator validates, credits and redeems: against a real anvil."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account

from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.models import OrchestratorCredit, ReceivedTicket, RedemptionStatus
from livepeer_ai.payments.recipient import PaymentRejected, Recipient
from livepeer_ai.payments.redemption import redeem_winning_tickets, ticket_of
from livepeer_ai.payments.sender import GatewaySender, SenderRefused
from livepeer_ai.payments.tickets import expected_value, sign_ticket_hash, ticket_hash
from livepeer_ai.payments.wire import Payment
from tests.livepeer_ai.payments.conftest import (
    GATEWAY_KEY,
    ORCHESTRATOR_A_KEY,
    ORCHESTRATOR_B_KEY,
    OTHER_GATEWAY_KEY,
    address_of,
)

MANIFEST = "text-to-image_livepeer-ai/tiny-sdxl-turbo"
# Tickets worth 1e15 wei EV with face value 2e15: about half of them win, so a
# test sees winners within a few tickets. Production keeps go-livepeer's limits.
EV = 10**15
REDEEM_GAS = 100_000


@pytest.fixture
def broker(payments: Any) -> Broker:
    payments.start_next_round()
    return Broker(payments.chain, payments.addresses)


def make_recipient(broker: Broker, key: str = ORCHESTRATOR_A_KEY, **options: Any) -> Recipient:
    options = {"ticket_ev": EV, "redeem_gas": REDEEM_GAS, "tx_cost_multiplier": 2, **options}
    return Recipient.with_new_secret(address_of(key), broker, **options)


def make_sender(broker: Broker, key: str = GATEWAY_KEY) -> GatewaySender:
    return GatewaySender(Account.from_key(key), broker, max_ticket_ev=10**16, max_total_ev=10**18)


def pay(recipient: Recipient, sender: GatewaySender, fee: int) -> Payment:
    params = recipient.ticket_params(sender.address, price_per_unit=1, pixels_per_unit=1)
    return sender.pay(params, fee, MANIFEST)


def serve_until_a_ticket_wins(recipient: Recipient, sender: GatewaySender) -> ReceivedTicket:
    """Jobs of fee EV, each paid and charged on both sides, until one of their tickets wins."""
    for _ in range(40):
        payment = pay(recipient, sender, fee=EV)
        recipient.receive(payment, MANIFEST)
        sender.accepted(payment, MANIFEST)
        recipient.debit(sender.address, MANIFEST, EV)
        sender.charge(recipient.address, MANIFEST, EV)
        winner = ReceivedTicket.objects.filter(winning=True).first()
        if winner is not None:
            return winner
    raise AssertionError("no winning ticket in 40 tickets at win probability 1/2")


@pytest.mark.django_db
def test_tickets_credit_their_expected_value_and_change_is_carried_forward(broker):
    recipient, sender = make_recipient(broker), make_sender(broker)
    payment = pay(recipient, sender, fee=EV * 5 // 2)
    ev = expected_value(payment.ticket_params.face_value, payment.ticket_params.win_prob)
    assert len(payment.tickets) == 3  # ceil(2.5 EV / EV)
    assert recipient.receive(Payment.decode(payment.encode()), MANIFEST) == 3 * ev
    sender.accepted(payment, MANIFEST)
    assert recipient.balance(sender.address, MANIFEST) == 3 * ev
    recipient.debit(sender.address, MANIFEST, EV * 5 // 2)
    sender.charge(recipient.address, MANIFEST, EV * 5 // 2)
    # The half ticket left over pays part of the next job: one ticket, not two.
    assert len(pay(recipient, sender, fee=EV).tickets) == 1
    assert [t.sender_nonce for t in ReceivedTicket.objects.order_by("sender_nonce")] == [1, 2, 3]


@pytest.mark.django_db
def test_winning_ticket_is_redeemed_on_chain_and_pays_the_orchestrator(broker, payments):
    recipient, sender = make_recipient(broker), make_sender(broker)
    winner = serve_until_a_ticket_wins(recipient, sender)
    assert winner.status == RedemptionStatus.PENDING
    deposit_before = payments.sender_info()[0]
    balance_before = broker.chain.balance_of(recipient.address)

    handled = redeem_winning_tickets(recipient.address, broker, ORCHESTRATOR_A_KEY, REDEEM_GAS)

    assert [row.id for row in handled] == [winner.id]
    winner.refresh_from_db()
    assert winner.status == RedemptionStatus.REDEEMED
    receipt = broker.chain.w3.eth.get_transaction_receipt(winner.tx_hash)
    assert receipt["status"] == 1 and receipt["gasUsed"] == winner.gas_used
    gas_paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    face_value = int(winner.face_value)
    assert broker.chain.balance_of(recipient.address) == balance_before + face_value - gas_paid
    assert payments.sender_info()[0] == deposit_before - face_value
    assert broker.is_used(bytes.fromhex(winner.ticket_hash[2:]))
    # A second pass finds nothing to send: never twice.
    assert redeem_winning_tickets(recipient.address, broker, ORCHESTRATOR_A_KEY, REDEEM_GAS) == []


@pytest.mark.django_db
def test_ticket_already_redeemed_on_chain_is_recorded_not_paid_twice(broker, payments):
    recipient, sender = make_recipient(broker), make_sender(broker)
    winner = serve_until_a_ticket_wins(recipient, sender)
    # Someone (a copy of this node's DB, say) redeems it first.
    broker.redeem(
        ticket_of(winner), bytes.fromhex(winner.signature[2:]), int(winner.recipient_rand, 16), ORCHESTRATOR_A_KEY
    )
    balance = broker.chain.balance_of(recipient.address)
    redeem_winning_tickets(recipient.address, broker, ORCHESTRATOR_A_KEY, REDEEM_GAS)
    winner.refresh_from_db()
    assert winner.status == RedemptionStatus.REDEEMED
    assert "already redeemed" in winner.last_error
    assert broker.chain.balance_of(recipient.address) == balance  # nothing sent


@pytest.mark.django_db
def test_tickets_below_redemption_cost_are_not_redeemed(broker):
    recipient, sender = make_recipient(broker), make_sender(broker)
    serve_until_a_ticket_wins(recipient, sender)
    # An operator whose redemptions cost more gas than the face value is worth.
    handled = redeem_winning_tickets(recipient.address, broker, ORCHESTRATOR_A_KEY, redeem_gas=10**12)
    assert [row.status for row in handled] == [RedemptionStatus.NOT_WORTH_IT]


@pytest.mark.django_db
def test_rejects_forged_signature(broker):
    recipient, sender = make_recipient(broker), make_sender(broker)
    params = recipient.ticket_params(sender.address, 1, 1)
    genuine = sender.pay(params, EV, MANIFEST)
    nonce, _signature = genuine.tickets[0]
    other = Account.from_key(OTHER_GATEWAY_KEY)
    ticket = params.ticket(sender.address, nonce)
    bad = Payment(sender.address, params, ((nonce, sign_ticket_hash(ticket_hash(ticket), other.key)),))
    with pytest.raises(PaymentRejected, match="invalid ticket signature: signed by"):
        recipient.receive(bad, MANIFEST)
    assert recipient.balance(sender.address, MANIFEST) == 0


@pytest.mark.django_db
def test_a_payment_refused_part_way_says_how_many_tickets_it_credited_and_both_books_count_those(broker):
    recipient, sender = make_recipient(broker), make_sender(broker)
    params = recipient.ticket_params(sender.address, 1, 1)
    genuine = sender.pay(params, 3 * EV, MANIFEST)
    (first, second, (nonce, _signature)) = genuine.tickets
    forged = sign_ticket_hash(
        ticket_hash(params.ticket(sender.address, nonce)), Account.from_key(OTHER_GATEWAY_KEY).key
    )
    payment = Payment(sender.address, params, (first, second, (nonce, forged)))
    with pytest.raises(PaymentRejected) as refused:
        recipient.receive(payment, MANIFEST)
    assert refused.value.tickets_recorded == 2 == ReceivedTicket.objects.count()
    sender.accepted(payment, MANIFEST, refused.value.tickets_recorded)
    credit = OrchestratorCredit.objects.get(sender=sender.address, recipient=recipient.address)
    assert credit.tickets_sent == 2
    assert int(credit.balance) == recipient.balance(sender.address, MANIFEST) == 2 * EV


@pytest.mark.django_db
def test_rejects_params_issued_to_another_recipient(broker):
    sender = make_sender(broker)
    payment = pay(make_recipient(broker, ORCHESTRATOR_B_KEY), sender, EV)
    with pytest.raises(PaymentRejected, match="not " + address_of(ORCHESTRATOR_A_KEY)):
        make_recipient(broker).receive(payment, MANIFEST)


@pytest.mark.django_db
def test_rejects_altered_params(broker):
    recipient, sender = make_recipient(broker), make_sender(broker)
    params = recipient.ticket_params(sender.address, 1, 1)
    # The sender raises the win probability it was given: recipientRand no longer matches.
    cheat = replace(params, win_prob=params.win_prob + params.win_prob // 2)
    with pytest.raises(PaymentRejected, match="not issued here"):
        recipient.receive(sender.pay(cheat, EV, MANIFEST), MANIFEST)


@pytest.mark.django_db
def test_rejects_replayed_nonce(broker):
    recipient, sender = make_recipient(broker), make_sender(broker)
    payment = pay(recipient, sender, EV)
    recipient.receive(payment, MANIFEST)
    credited = recipient.balance(sender.address, MANIFEST)
    with pytest.raises(PaymentRejected, match="nonce 1 was already used"):
        recipient.receive(payment, MANIFEST)
    assert recipient.balance(sender.address, MANIFEST) == credited


@pytest.mark.django_db
def test_rejects_expired_params(broker, payments):
    recipient, sender = make_recipient(broker), make_sender(broker)
    payment = pay(recipient, sender, EV)
    payments.mine(41)
    with pytest.raises(PaymentRejected, match="ticket params expired"):
        recipient.receive(payment, MANIFEST)


@pytest.mark.django_db
def test_rejects_sender_without_deposit(broker):
    recipient = make_recipient(broker)
    stranger = make_sender(broker, OTHER_GATEWAY_KEY)
    with pytest.raises(PaymentRejected, match="no deposit or reserve"):
        recipient.ticket_params(stranger.address, 1, 1)


@pytest.mark.django_db
def test_rejects_sender_in_unlock_on_both_sides(broker, payments):
    recipient, sender = make_recipient(broker), make_sender(broker)
    payment = pay(recipient, sender, EV)
    payments.chain.transact(payments.broker.functions.unlock(), GATEWAY_KEY)
    with pytest.raises(PaymentRejected, match="unlocking"):
        recipient.receive(payment, MANIFEST)
    with pytest.raises(SenderRefused, match="unlocking"):
        pay(recipient, sender, EV)


@pytest.mark.django_db
def test_sender_refuses_params_beyond_its_limits(broker):
    recipient = make_recipient(broker)
    frugal = GatewaySender(Account.from_key(GATEWAY_KEY), broker)  # go-livepeer's 3e12 wei max ticket EV
    with pytest.raises(SenderRefused, match="above this gateway's limit"):
        pay(recipient, frugal, EV)
    assert not OrchestratorCredit.objects.exists()


@pytest.mark.django_db
def test_rejects_nonces_beyond_600_per_ticket_params(broker):
    recipient, sender = make_recipient(broker), make_sender(broker)
    params = recipient.ticket_params(sender.address, 1, 1)

    def signed(nonce: int) -> tuple[int, bytes]:
        return nonce, sign_ticket_hash(ticket_hash(params.ticket(sender.address, nonce)), GATEWAY_KEY)

    recipient.receive(Payment(sender.address, params, (signed(600),)), MANIFEST)
    with pytest.raises(PaymentRejected, match="at most 600 tickets per ticket params"):
        recipient.receive(Payment(sender.address, params, (signed(601),)), MANIFEST)


@pytest.mark.django_db
def test_a_chain_that_does_not_answer_leaves_winners_pending_not_submitted(broker):
    from livepeer_ai.payments.chain import Chain, ChainUnavailable
    from livepeer_ai.ports import free_port

    recipient, sender = make_recipient(broker), make_sender(broker)
    winner = serve_until_a_ticket_wins(recipient, sender)
    gone = Broker(Chain(f"http://127.0.0.1:{free_port()}", request_timeout_s=2), broker.addresses)
    with pytest.raises(ChainUnavailable):
        redeem_winning_tickets(recipient.address, gone, ORCHESTRATOR_A_KEY, REDEEM_GAS)
    winner.refresh_from_db()
    assert (winner.status, winner.attempts) == (RedemptionStatus.PENDING, 0)
    # The chain back: redeemed on the next pass, not after the orphan sweep's minutes.
    redeem_winning_tickets(recipient.address, broker, ORCHESTRATOR_A_KEY, REDEEM_GAS)
    winner.refresh_from_db()
    assert winner.status == RedemptionStatus.REDEEMED
