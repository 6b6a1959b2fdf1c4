"""Redeeming an orchestrator's winning tickets on chain: retried on failure, never twice.

A ticket moves PENDING → SUBMITTED by one conditional UPDATE, so two redeemers
never send the same ticket; the broker's `usedTickets` is the second guard. A
failed send goes back to PENDING with a doubling back-off, up to a bounded
number of attempts; a ticket left SUBMITTED by a crash is settled from the
chain on the next pass. Tickets whose face value does not exceed the gas of
redeeming them are left alone (docs/protocol.md §3.2).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.chain import ChainError, ContractReverted
from livepeer_ai.payments.earnings import count_redeemed
from livepeer_ai.payments.models import ReceivedTicket, RedemptionStatus
from livepeer_ai.payments.tickets import Ticket

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_RETRY_S = 5
# A SUBMITTED ticket older than this was orphaned by a crash between send and record.
SUBMITTED_STALE_S = 120


def ticket_of(row: ReceivedTicket) -> Ticket:
    return Ticket(
        recipient=row.recipient,
        sender=row.sender,
        face_value=int(row.face_value),
        win_prob=int(row.win_prob),
        sender_nonce=row.sender_nonce,
        recipient_rand_hash=bytes.fromhex(row.recipient_rand_hash[2:]),
        aux_data=bytes.fromhex(row.aux_data[2:]),
    )


def redeem_winning_tickets(
    recipient: str, broker: Broker, account_key: str, redeem_gas: int, limit: int = 20
) -> list[ReceivedTicket]:
    """One pass over this recipient's due winning tickets; returns the rows it settled or retried."""
    now = timezone.now()
    settle_orphans(recipient, broker, now)
    due = ReceivedTicket.objects.filter(recipient=recipient, status=RedemptionStatus.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    handled = []
    tx_cost: int | None = None
    for row in due.order_by("received_at")[:limit]:
        if tx_cost is None:
            # Asked of the chain before any ticket is claimed: a chain that does not answer
            # leaves every ticket PENDING (and its attempts unspent), not SUBMITTED for minutes.
            tx_cost = redeem_gas * broker.gas_price()
        claimed = ReceivedTicket.objects.filter(id=row.id, status=RedemptionStatus.PENDING).update(
            status=RedemptionStatus.SUBMITTED, attempts=row.attempts + 1, next_attempt_at=now
        )
        if not claimed:
            continue
        row.refresh_from_db()
        if int(row.face_value) <= tx_cost:
            row.status = RedemptionStatus.NOT_WORTH_IT
            row.last_error = f"face value {row.face_value} wei ≤ redemption cost {tx_cost} wei"
            row.save(update_fields=["status", "last_error"])
        else:
            redeem_one(row, broker, account_key)
        handled.append(row)
    return handled


def redeem_one(row: ReceivedTicket, broker: Broker, account_key: str) -> None:
    try:
        broker.ensure_round_initialized(account_key)
        receipt = broker.redeem(
            ticket_of(row), bytes.fromhex(row.signature[2:]), int(row.recipient_rand, 16), account_key
        )
    except ContractReverted as exc:
        if broker.is_used(bytes.fromhex(row.ticket_hash[2:])):
            mark_redeemed_elsewhere(row)
            return
        retry_later(row, f"reverted: {exc.reason or exc}")
        return
    except ChainError as exc:
        retry_later(row, str(exc))
        return
    row.status = RedemptionStatus.REDEEMED
    row.tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    row.gas_used = int(receipt["gasUsed"])
    row.redeemed_at = timezone.now()
    row.last_error = ""
    save_redeemed(row, ["tx_hash", "gas_used", "redeemed_at", "last_error"])
    logger.info("redeemed ticket %s: tx %s, %s gas", row.ticket_hash, row.tx_hash, row.gas_used)


def retry_later(row: ReceivedTicket, reason: str) -> None:
    row.last_error = reason[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = RedemptionStatus.FAILED
        logger.warning("giving up on ticket %s after %s attempts: %s", row.ticket_hash, row.attempts, reason)
    else:
        row.status = RedemptionStatus.PENDING
        row.next_attempt_at = timezone.now() + timedelta(seconds=FIRST_RETRY_S * 2 ** (row.attempts - 1))
    row.save(update_fields=["status", "last_error", "next_attempt_at"])


def mark_redeemed_elsewhere(row: ReceivedTicket) -> None:
    row.status = RedemptionStatus.REDEEMED
    row.last_error = "already redeemed on chain (usedTickets)"
    row.redeemed_at = row.redeemed_at or timezone.now()
    save_redeemed(row, ["last_error", "redeemed_at"])


def save_redeemed(row: ReceivedTicket, fields: list[str]) -> None:
    """Store a redeemed ticket, counting it in the earnings only the first time it becomes redeemed."""
    with transaction.atomic():
        first = (
            ReceivedTicket.objects.filter(id=row.id)
            .exclude(status=RedemptionStatus.REDEEMED)
            .update(status=RedemptionStatus.REDEEMED)
        )
        row.save(update_fields=fields)
        if first:
            count_redeemed(row)


def settle_orphans(recipient: str, broker: Broker, now: object) -> None:
    stale = timezone.now() - timedelta(seconds=SUBMITTED_STALE_S)
    for row in ReceivedTicket.objects.filter(
        recipient=recipient, status=RedemptionStatus.SUBMITTED, next_attempt_at__lt=stale
    ):
        if broker.is_used(bytes.fromhex(row.ticket_hash[2:])):
            mark_redeemed_elsewhere(row)
        else:
            ReceivedTicket.objects.filter(id=row.id, status=RedemptionStatus.SUBMITTED).update(
                status=RedemptionStatus.PENDING
            )
