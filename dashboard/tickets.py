"""A node's ticket history: filtered, paginated, and exported as CSV without loading it all."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, time, timedelta
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from dashboard.forms import TicketFilterForm
from livepeer_ai.payments.models import ReceivedTicket

PAGE_SIZE = 50
# CSV header → ReceivedTicket field; amounts say their unit in the header.
CSV_COLUMNS = {
    "received_at": "received_at",
    "sender": "sender",
    "manifest_id": "manifest_id",
    "face_value_wei": "face_value",
    "win_prob": "win_prob",
    "expected_value_wei": "expected_value",
    "winning": "winning",
    "status": "status",
    "tx_hash": "tx_hash",
    "gas_used": "gas_used",
    "redeemed_at": "redeemed_at",
    "ticket_hash": "ticket_hash",
}
CSV_FIELDS = tuple(CSV_COLUMNS.values())


def day_start(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def filtered(address: str, form: TicketFilterForm) -> QuerySet[ReceivedTicket]:
    """The node's tickets matching a valid filter form, newest first."""
    tickets = ReceivedTicket.objects.filter(recipient=address)
    terms = form.cleaned_data
    if terms.get("status"):
        tickets = tickets.filter(status=terms["status"])
    if terms.get("sender"):
        tickets = tickets.filter(sender=terms["sender"])
    if terms.get("received_from"):
        tickets = tickets.filter(received_at__gte=day_start(terms["received_from"]))
    if terms.get("received_to"):
        # Inclusive of the whole last day.
        tickets = tickets.filter(received_at__lt=day_start(terms["received_to"]) + timedelta(days=1))
    return tickets.order_by("-received_at", "-id")


def page_of(tickets: QuerySet[ReceivedTicket], number: int) -> Page[Any]:
    """One page (a COUNT and a LIMIT/OFFSET query); a page past the end gives the last one."""
    return Paginator(tickets, PAGE_SIZE).get_page(number)


class Echo:
    """csv.writer target that hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(tickets: QuerySet[ReceivedTicket]) -> Iterator[str]:
    """The tickets as CSV, one line at a time, read from the database in chunks; amounts in exact wei."""
    writer = csv.writer(Echo())
    yield writer.writerow(list(CSV_COLUMNS))
    for row in tickets.values_list(*CSV_FIELDS).iterator(chunk_size=2000):
        values = dict(zip(CSV_FIELDS, row, strict=True))
        values["received_at"] = values["received_at"].isoformat()
        values["redeemed_at"] = values["redeemed_at"].isoformat() if values["redeemed_at"] else ""
        values["gas_used"] = "" if values["gas_used"] is None else values["gas_used"]
        values["winning"] = "yes" if values["winning"] else "no"
        yield writer.writerow([values[name] for name in CSV_FIELDS])


async def async_lines(lines: Iterator[str], batch: int = 500) -> AsyncIterator[str]:
    """Hand a sync line generator to an ASGI server in batches: Django buffers a whole sync iterator under
    ASGI, so streaming needs an async one. Every batch runs in the same sync thread (and DB connection)."""
    take = sync_to_async(lambda: list(islice(lines, batch)), thread_sensitive=True)
    while chunk := await take():
        for line in chunk:
            yield line
