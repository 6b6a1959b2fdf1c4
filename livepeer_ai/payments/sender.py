"""The gateway's side of payment (docs/protocol.md §3.3): how many tickets, their nonces and signatures.

For each request: numTickets = ceil((max(fee, EV) − credit) / EV), where the
credit is what earlier tickets to this orchestrator and capability paid beyond
the work charged; a batch shares the orchestrator's ticket params and each
ticket gets the next nonce and its own signature. The books count a batch
(tickets sent, credit grown by its EV) once the orchestrator accepted it, as it
credits them, not when signed: a node that refused the request first (busy, or
refusing it for another reason) never received them. The credit shrinks by the
fee only once the work completed, the same rule the orchestrator applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from eth_account.signers.local import LocalAccount

from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.models import OrchestratorCredit, SenderNonce
from livepeer_ai.payments.ticket_value import tickets_to_send
from livepeer_ai.payments.tickets import expected_value, sign_ticket_hash, ticket_hash
from livepeer_ai.payments.wire import Payment, TicketParams

# go-livepeer's sender limits (docs/protocol.md §3.3).
MAX_TICKET_EV = 3_000_000_000_000
MAX_TOTAL_EV = 20_000_000_000_000
DEPOSIT_MULTIPLIER = 1


class SenderRefused(Exception):
    """Ticket params or funds this gateway will not pay with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class GatewaySender:
    account: LocalAccount
    broker: Broker
    max_ticket_ev: int = MAX_TICKET_EV
    max_total_ev: int = MAX_TOTAL_EV
    deposit_multiplier: int = DEPOSIT_MULTIPLIER

    @property
    def address(self) -> str:
        return str(self.account.address)

    def validate(self, params: TicketParams) -> int:
        """The params' EV per ticket, if this gateway can and will pay with them."""
        ev = expected_value(params.face_value, params.win_prob)
        if ev <= 0:
            raise SenderRefused("ticket params give tickets no expected value")
        if ev >= params.face_value:
            raise SenderRefused(f"ticket EV {ev} wei is not below the face value {params.face_value} wei")
        if ev > self.max_ticket_ev:
            raise SenderRefused(f"ticket EV {ev} wei is above this gateway's limit of {self.max_ticket_ev} wei")
        info = self.broker.sender_info(self.address)
        if info.unlocking:
            raise SenderRefused("this gateway's deposit is unlocking: cancel the unlock or fund a new deposit")
        if info.deposit == 0 or info.reserve == 0:
            raise SenderRefused("this gateway has no deposit or no reserve: run `manage.py fund_deposit`")
        if params.face_value > info.deposit // self.deposit_multiplier:
            raise SenderRefused(
                f"face value {params.face_value} wei is above this gateway's deposit of {info.deposit} wei"
            )
        return ev

    def credit(self, recipient: str, manifest_id: str) -> int:
        row = OrchestratorCredit.objects.filter(
            sender=self.address, recipient=recipient, manifest_id=manifest_id
        ).first()
        return int(row.balance) if row else 0

    def pay(self, params: TicketParams, fee_wei: int, manifest_id: str, credit: int | None = None) -> Payment:
        """Tickets enough to cover `fee_wei` beyond the existing credit, nonces reserved, signed.

        `credit` is the balance the orchestrator reports for this gateway; without
        it, the gateway's own record (EV accepted minus completed work) is used.
        Nothing is booked here: `accepted` does that once the node took the batch.
        """
        ev = self.validate(params)
        existing = self.credit(params.recipient, manifest_id) if credit is None else credit
        count = tickets_to_send(fee_wei, ev, existing)
        if count * ev > self.max_total_ev:
            raise SenderRefused(
                f"{count} tickets of {ev} wei EV exceed this gateway's limit of {self.max_total_ev} wei per batch"
            )
        with transaction.atomic():
            # Nonces are spent even for a batch the node never takes: a ticket's nonce is never reused.
            nonces = self.reserve_nonces(params.recipient_rand_hash, count)
        tickets = [
            (nonce, sign_ticket_hash(ticket_hash(params.ticket(self.address, nonce)), self.account.key))
            for nonce in nonces
        ]
        return Payment(sender=self.address, ticket_params=params, tickets=tuple(tickets))

    def accepted(self, payment: Payment, manifest_id: str, tickets: int | None = None) -> None:
        """The node took `tickets` of the batch (all when None), as it said answering the request
        they came with: now those count as sent."""
        count = len(payment.tickets) if tickets is None else min(tickets, len(payment.tickets))
        if count <= 0:
            return
        params = payment.ticket_params
        ev = expected_value(params.face_value, params.win_prob)
        with transaction.atomic():
            row, _ = OrchestratorCredit.objects.select_for_update().get_or_create(
                sender=self.address, recipient=params.recipient, manifest_id=manifest_id
            )
            row.balance = int(row.balance) + count * ev
            row.tickets_sent += count
            row.save(update_fields=["balance", "tickets_sent", "updated_at"])

    def reserve_nonces(self, rand_hash: bytes, count: int) -> list[int]:
        row, _ = SenderNonce.objects.select_for_update().get_or_create(recipient_rand_hash="0x" + rand_hash.hex())
        first = row.next_nonce + 1
        row.next_nonce += count
        row.save(update_fields=["next_nonce"])
        return list(range(first, first + count))

    def charge(self, recipient: str, manifest_id: str, fee_wei: int) -> None:
        """Completed work: the credit at that orchestrator pays for it."""
        with transaction.atomic():
            row, _ = OrchestratorCredit.objects.select_for_update().get_or_create(
                sender=self.address, recipient=recipient, manifest_id=manifest_id
            )
            row.balance = int(row.balance) - fee_wei
            row.save(update_fields=["balance", "updated_at"])
