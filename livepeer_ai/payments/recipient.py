"""The orchestrator's side of payment (docs/protocol.md §3.2): ticket params, validation, balances.

- `ticket_params` gives a sender a face value and win probability for the
  node's expected value per ticket, and commits to a recipientRand derived by
  HMAC from a secret, so the node keeps no per-params state.
- `receive` checks a payment's tickets as go-livepeer's recipient and
  validator do, records each, credits its expected value to the sender's
  balance for the capability, and queues winners for redemption.
- `debit` charges completed work only; the node never calls it for a job
  refused for capacity or one that failed.

Every error is `PaymentRejected` with the reason the caller sees (HTTP 400).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from livepeer_ai.payments import ticket_value
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.earnings import count_received
from livepeer_ai.payments.eth_usd import current_rate
from livepeer_ai.payments.models import ReceivedTicket, RedemptionStatus, SenderBalance
from livepeer_ai.payments.ticket_value import DEFAULT_REDEEM_GAS, DEFAULT_TICKET_EV, TX_COST_MULTIPLIER
from livepeer_ai.payments.tickets import (
    InvalidTicketSignature,
    Ticket,
    aux_data_for,
    expected_value,
    is_winning_ticket,
    recipient_rand_hash,
    recover_ticket_signer,
    ticket_hash,
)
from livepeer_ai.payments.wire import Payment, TicketParams

# go-livepeer's defaults (docs/protocol.md §3.2).
EXPIRATION_BLOCKS = 40
MAX_NONCES_PER_PARAMS = 600


class PaymentRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # Tickets of the payment credited before it was refused: each is recorded on its own.
        self.tickets_recorded = 0


def _minimal_bytes(value: int) -> bytes:
    """Go's big.Int.Bytes(): big-endian, no leading zeros, empty for zero."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@dataclass
class Recipient:
    address: str
    broker: Broker
    secret: bytes
    ticket_ev: int = DEFAULT_TICKET_EV
    redeem_gas: int = DEFAULT_REDEEM_GAS
    tx_cost_multiplier: int = TX_COST_MULTIPLIER
    max_face_value: int | None = None

    @classmethod
    def with_new_secret(cls, address: str, broker: Broker, **options: Any) -> Recipient:
        return cls(address=address, broker=broker, secret=secrets.token_bytes(32), **options)

    # Params

    def tx_cost(self) -> int:
        return ticket_value.tx_cost(self.redeem_gas, self.broker.gas_price())

    def face_value_for(self, sender: str) -> int:
        """max(txCost, EV) × 100, capped by what the sender's reserve can cover for us (docs/protocol.md §3.2)."""
        info = self.broker.sender_info(sender)
        return ticket_value.face_value(
            ticket_value.uncapped_face_value(self.tx_cost(), self.ticket_ev, self.tx_cost_multiplier),
            ticket_value.sender_float(info.deposit, info.reserve, self.broker.pool_size()),
            self.max_face_value,
        )

    def recipient_rand(self, params: TicketParams, sender: str) -> int:
        """HMAC-SHA256(secret, seed‖sender‖faceValue‖winProb‖expBlock‖price.num‖price.denom‖auxData)."""
        message = b"".join(
            (
                _minimal_bytes(params.seed),
                bytes.fromhex(sender.removeprefix("0x")),
                _minimal_bytes(params.face_value),
                _minimal_bytes(params.win_prob),
                _minimal_bytes(params.expiration_block),
                _minimal_bytes(params.price_per_unit),
                _minimal_bytes(params.pixels_per_unit),
                aux_data_for(params.creation_round, params.creation_round_block_hash),
            )
        )
        return int.from_bytes(hmac.new(self.secret, message, hashlib.sha256).digest(), "big")

    def ticket_params(self, sender: str, price_per_unit: int, pixels_per_unit: int) -> TicketParams:
        face_value = self.face_value_for(sender)
        if face_value <= 0:
            raise PaymentRejected(f"sender {sender} has no deposit or reserve to back tickets")
        win_prob = ticket_value.win_probability(face_value, self.ticket_ev)
        creation_round, block_hash = self.broker.last_initialized_round()
        unsigned = TicketParams(
            recipient=self.address,
            face_value=face_value,
            win_prob=win_prob,
            recipient_rand_hash=b"\0" * 32,
            seed=int.from_bytes(secrets.token_bytes(32), "big"),
            expiration_block=self.broker.block_number() + EXPIRATION_BLOCKS,
            creation_round=creation_round,
            creation_round_block_hash=block_hash,
            price_per_unit=price_per_unit,
            pixels_per_unit=pixels_per_unit,
        )
        rand = self.recipient_rand(unsigned, sender)
        return unsigned.with_rand_hash(recipient_rand_hash(rand))

    # Tickets

    def receive(self, payment: Payment, manifest_id: str) -> int:
        """Validate and record every ticket of `payment`; returns the EV credited to the sender."""
        params = payment.ticket_params
        sender = payment.sender
        if params.recipient.lower() != self.address.lower():
            raise PaymentRejected(f"ticket params are for recipient {params.recipient}, not {self.address}")
        rand = self.recipient_rand(params, sender)
        if recipient_rand_hash(rand) != params.recipient_rand_hash:
            # Params we did not issue to this sender, or issued and then altered.
            raise PaymentRejected("invalid recipientRand for recipientRandHash: ticket params were not issued here")
        if self.broker.block_number() > params.expiration_block:
            raise PaymentRejected("ticket params expired")
        if not payment.tickets:
            return 0
        self.check_sender(sender, params)
        # The rate when the tickets arrived, read once per payment and outside any transaction.
        rate = current_rate().recorded()
        credited = 0
        for recorded, (sender_nonce, signature) in enumerate(payment.tickets):
            try:
                credited += self.receive_one(params.ticket(sender, sender_nonce), signature, rand, manifest_id, rate)
            except PaymentRejected as exc:
                exc.tickets_recorded = recorded
                raise
        return credited

    def receive_one(self, ticket: Ticket, signature: bytes, rand: int, manifest_id: str, rate: dict[str, Any]) -> int:
        digest = ticket_hash(ticket)
        try:
            signer = recover_ticket_signer(digest, signature)
        except InvalidTicketSignature as exc:
            raise PaymentRejected(f"invalid ticket signature: {exc}") from None
        if signer.lower() != ticket.sender.lower():
            raise PaymentRejected(f"invalid ticket signature: signed by {signer}, not by sender {ticket.sender}")
        return self.record(ticket, digest, signature, rand, manifest_id, rate)

    def check_sender(self, sender: str, params: TicketParams) -> None:
        info = self.broker.sender_info(sender)
        if info.unlocking:
            raise PaymentRejected(f"sender {sender} is unlocking its deposit; no new tickets are accepted")
        if info.deposit == 0 or info.reserve == 0:
            raise PaymentRejected(
                f"sender {sender} has insufficient deposit or reserve (deposit {info.deposit} wei, "
                f"reserve {info.reserve} wei)"
            )
        float_wei = ticket_value.sender_float(info.deposit, info.reserve, self.broker.pool_size())
        if params.face_value > float_wei:
            raise PaymentRejected(
                f"sender {sender} cannot cover face value {params.face_value} wei "
                f"(deposit {info.deposit} + reserve share {float_wei - info.deposit} wei)"
            )
        current_round = self.broker.current_round()
        if params.creation_round + self.broker.ticket_validity_period <= current_round:
            raise PaymentRejected(f"ticket params from round {params.creation_round} are expired")
        if self.broker.round_block_hash(params.creation_round) != params.creation_round_block_hash:
            raise PaymentRejected(f"ticket params name a wrong block hash for round {params.creation_round}")

    def record(
        self, ticket: Ticket, digest: bytes, signature: bytes, rand: int, manifest_id: str, rate: dict[str, Any]
    ) -> int:
        ev = expected_value(ticket.face_value, ticket.win_prob)
        winning = is_winning_ticket(signature, rand, ticket.win_prob)
        rand_hash = "0x" + ticket.recipient_rand_hash.hex()
        try:
            with transaction.atomic():
                used = ReceivedTicket.objects.filter(recipient_rand_hash=rand_hash).count()
                if ticket.sender_nonce > MAX_NONCES_PER_PARAMS or used >= MAX_NONCES_PER_PARAMS:
                    raise PaymentRejected(
                        f"invalid ticket senderNonce: at most {MAX_NONCES_PER_PARAMS} tickets per ticket params"
                    )
                row = ReceivedTicket.objects.create(
                    recipient=ticket.recipient,
                    sender=ticket.sender,
                    manifest_id=manifest_id,
                    face_value=ticket.face_value,
                    win_prob=ticket.win_prob,
                    sender_nonce=ticket.sender_nonce,
                    recipient_rand_hash=rand_hash,
                    recipient_rand="0x" + rand.to_bytes(32, "big").hex(),
                    aux_data="0x" + ticket.aux_data.hex(),
                    signature="0x" + signature.hex(),
                    ticket_hash="0x" + digest.hex(),
                    expected_value=ev,
                    winning=winning,
                    status=RedemptionStatus.PENDING if winning else RedemptionStatus.NOT_WINNING,
                    next_attempt_at=timezone.now() if winning else None,
                    **rate,
                )
                count_received(row)
                self.adjust(ticket.sender, manifest_id, ev)
        except IntegrityError:
            raise PaymentRejected(f"invalid ticket senderNonce: nonce {ticket.sender_nonce} was already used") from None
        return ev

    # Balances

    def adjust(self, sender: str, manifest_id: str, delta: int) -> int:
        with transaction.atomic():
            row, _ = SenderBalance.objects.select_for_update().get_or_create(
                recipient=self.address, sender=sender, manifest_id=manifest_id
            )
            row.balance = row.balance + delta
            row.save(update_fields=["balance", "updated_at"])
            return int(row.balance)

    def balance(self, sender: str, manifest_id: str) -> int:
        row = SenderBalance.objects.filter(recipient=self.address, sender=sender, manifest_id=manifest_id).first()
        return int(row.balance) if row else 0

    def debit(self, sender: str, manifest_id: str, fee_wei: int) -> int:
        return self.adjust(sender, manifest_id, -fee_wei)
