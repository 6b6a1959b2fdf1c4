"""What each recipient earned per hour (`EarningsHour`), kept up to date and exact.

`count_received` runs in the transaction that records a ticket, `count_redeemed`
in the one that marks it redeemed, so the rollup never disagrees with the
tickets; `rebuild` recomputes it from them (after a bulk import, or to check).
Amounts are Python ints end to end: wei never passes through a float or SQL SUM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import transaction

from livepeer_ai.payments.models import EarningsHour, ReceivedTicket, RedemptionStatus

AMOUNTS = (
    "tickets",
    "expected_value",
    "winning_tickets",
    "winning_face_value",
    "redeemed_tickets",
    "redeemed_value",
    "redemption_gas",
)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def add(recipient: str, moment: datetime, **deltas: int) -> None:
    with transaction.atomic():
        row, _ = EarningsHour.objects.select_for_update().get_or_create(recipient=recipient, hour=hour_of(moment))
        for name, delta in deltas.items():
            setattr(row, name, int(getattr(row, name)) + delta)
        row.save(update_fields=list(deltas))


def received_amounts(expected_value: int, winning: bool, face_value: int) -> dict[str, int]:
    """What one ticket adds to the hour it was received in."""
    return {
        "tickets": 1,
        "expected_value": int(expected_value),
        "winning_tickets": int(winning),
        "winning_face_value": int(face_value) if winning else 0,
    }


def redeemed_amounts(face_value: int, gas_used: int | None) -> dict[str, int]:
    """What one ticket adds to the hour it was redeemed in."""
    return {"redeemed_tickets": 1, "redeemed_value": int(face_value), "redemption_gas": gas_used or 0}


def count_received(ticket: ReceivedTicket) -> None:
    add(
        ticket.recipient,
        ticket.received_at,
        **received_amounts(ticket.expected_value, ticket.winning, ticket.face_value),
    )


def count_redeemed(ticket: ReceivedTicket) -> None:
    assert ticket.redeemed_at is not None, "a redeemed ticket has a redemption time"
    add(ticket.recipient, ticket.redeemed_at, **redeemed_amounts(ticket.face_value, ticket.gas_used))


def rebuild(recipients: Iterable[str] | None = None, batch_size: int = 5000) -> int:
    """Replace the rollups of `recipients` (default: all) with sums over their tickets; returns rows written."""
    tickets = ReceivedTicket.objects.all()
    rollups = EarningsHour.objects.all()
    if recipients is not None:
        recipients = list(recipients)
        tickets = tickets.filter(recipient__in=recipients)
        rollups = rollups.filter(recipient__in=recipients)
    totals: dict[tuple[str, datetime], dict[str, int]] = defaultdict(lambda: dict.fromkeys(AMOUNTS, 0))
    fields = (
        "recipient",
        "received_at",
        "expected_value",
        "winning",
        "face_value",
        "status",
        "redeemed_at",
        "gas_used",
    )
    for recipient, received_at, ev, winning, face_value, status, redeemed_at, gas in tickets.values_list(
        *fields
    ).iterator(chunk_size=batch_size):
        received = totals[(recipient, hour_of(received_at))]
        for name, amount in received_amounts(ev, winning, face_value).items():
            received[name] += amount
        if status == RedemptionStatus.REDEEMED and redeemed_at is not None:
            redeemed = totals[(recipient, hour_of(redeemed_at))]
            for name, amount in redeemed_amounts(face_value, gas).items():
                redeemed[name] += amount
    with transaction.atomic():
        rollups.delete()
        EarningsHour.objects.bulk_create(
            [EarningsHour(recipient=r, hour=h, **amounts) for (r, h), amounts in totals.items()],
            batch_size=1000,
        )
    return len(totals)
