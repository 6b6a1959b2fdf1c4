"""Ticket history: filters (status, sender, dates), pages, and the streamed CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from dashboard.tickets import PAGE_SIZE
from livepeer_ai.payments.models import RedemptionStatus
from tests.dashboard.factories import GATEWAY, make_ticket
from tests.forms_a11y import assert_descriptions_exist, assert_error_linked, controls_of

OTHER_GATEWAY = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]


@pytest.fixture
def tickets(personas):
    address = personas.operator_address
    made = {
        "old": make_ticket(address, datetime(2026, 10, 1, 12, tzinfo=UTC)),
        "redeemed": make_ticket(
            address,
            datetime(2026, 10, 5, 23, 59, tzinfo=UTC),
            winning=True,
            face_value=2**80,
            status=RedemptionStatus.REDEEMED,
            tx_hash="0x" + "ab" * 32,
            gas_used=90_123,
            redeemed_at=datetime(2026, 10, 6, tzinfo=UTC),
        ),
        "pending": make_ticket(
            address,
            datetime(2026, 10, 6, tzinfo=UTC),
            sender=OTHER_GATEWAY,
            winning=True,
            status=RedemptionStatus.PENDING,
        ),
        "elsewhere": make_ticket(personas.other_operator_address, datetime(2026, 10, 5, tzinfo=UTC)),
    }
    return made


def listed(client, personas, query: str = "", **headers: str) -> tuple[int, str]:
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/tickets/{query}", **headers)
    return response.status_code, response.content.decode()


def shown(html: str, tickets: dict) -> set[str]:
    return {name for name, ticket in tickets.items() if f'data-ticket="{ticket.ticket_hash}"' in html}


def test_lists_only_this_nodes_tickets_newest_first_with_tx_hashes(client, personas, tickets):
    status, html = listed(client, personas)
    assert status == 200
    assert shown(html, tickets) == {"old", "redeemed", "pending"}
    assert (
        html.index(tickets["pending"].ticket_hash)
        < html.index(tickets["redeemed"].ticket_hash)
        < html.index(tickets["old"].ticket_hash)
    )
    assert "0x" + "ab" * 32 in html and "90123 gas" in html
    assert 'id="ticket-count">3 tickets' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=redeemed", {"redeemed"}),
        ("?status=pending", {"pending"}),
        (f"?sender={OTHER_GATEWAY.lower()}", {"pending"}),
        (f"?sender={GATEWAY}", {"old", "redeemed"}),
        ("?received_from=2026-10-05", {"redeemed", "pending"}),
        ("?received_to=2026-10-05", {"old", "redeemed"}),
        ("?received_from=2026-10-02&received_to=2026-10-05&status=redeemed", {"redeemed"}),
    ],
)
def test_filters_by_status_sender_and_date_range(client, personas, tickets, query, expected):
    status, html = listed(client, personas, query)
    assert status == 200
    assert shown(html, tickets) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?sender=0x12", "Enter an Ethereum address"),
        ("?status=lost", "Select a valid choice"),
        ("?received_from=yesterday", "Enter a valid date"),
        ("?received_from=2026-10-06&received_to=2026-10-01", "The start date is after the end date"),
        ("?page=0", "greater than or equal to 1"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_what_is_wrong(client, personas, tickets, query, message):
    status, html = listed(client, personas, query)
    assert status == 400
    assert message in html
    assert shown(html, tickets) == set()


def test_pages_through_many_tickets_and_keeps_the_filter_in_page_links(client, personas):
    for _ in range(PAGE_SIZE + 3):
        make_ticket(personas.operator_address, status=RedemptionStatus.PENDING, winning=True)
    make_ticket(personas.operator_address)
    status, first = listed(client, personas, "?status=pending")
    assert status == 200 and first.count("data-ticket=") == PAGE_SIZE
    assert 'href="?status=pending&amp;page=2"' in first and "Page 1 of 2" in first
    status, second = listed(client, personas, "?status=pending&page=2", HTTP_HX_REQUEST="true")
    assert second.lstrip().startswith('<section class="card" id="results">')
    assert second.count("data-ticket=") == 3 and "Page 2 of 2" in second
    # Past the end: the last page, not an error.
    assert listed(client, personas, "?status=pending&page=99")[1].count("data-ticket=") == 3


def test_exports_the_filtered_tickets_as_streamed_csv_in_exact_wei(client, personas, tickets):
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/tickets.csv?status=redeemed")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv"
    assert f'filename="tickets-{personas.operator_address}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["face_value_wei"] == str(2**80)
    assert row["tx_hash"] == "0x" + "ab" * 32 and row["gas_used"] == "90123"
    assert row["status"] == "redeemed" and row["winning"] == "yes"
    assert row["received_at"] == "2026-10-05T23:59:00+00:00" and row["redeemed_at"] == "2026-10-06T00:00:00+00:00"
    everything = list(csv.reader(io.StringIO(b"".join(client.get(response.request["PATH_INFO"])).decode())))
    assert len(everything) == 1 + 3  # header and this node's three tickets


def test_a_bad_export_filter_is_a_400(client, personas, tickets):
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/tickets.csv?sender=nobody")
    assert response.status_code == 400 and b"Enter an Ethereum address" in response.content


@pytest.mark.parametrize("query", ["?received_to=9999-12-31", "?received_from=0001-01-01", "?received_from=9999-12-31"])
def test_a_date_at_the_ends_of_the_calendar_is_a_400_not_a_crash(client, personas, tickets, query):
    status, html = listed(client, personas, query)
    assert status == 400
    assert "Enter a date between 1970-01-01 and 9999-12-30" in html
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/tickets.csv{query}")
    assert response.status_code == 400 and b"Enter a date between 1970-01-01 and 9999-12-30" in response.content


def test_the_last_day_allowed_still_filters(client, personas, tickets):
    status, html = listed(client, personas, "?received_from=2026-10-05&received_to=9999-12-30")
    assert status == 200
    assert shown(html, tickets) == {"redeemed", "pending"}


@pytest.mark.django_db
def test_ticket_filter_inputs_point_at_their_help_and_errors(client, personas):
    client.force_login(personas.operator)
    url = f"/dashboard/nodes/{personas.operator_address}/tickets/"
    assert_descriptions_exist(controls_of(client.get(url)))
    page = controls_of(client.get(url, {"sender": "not-an-address"}))
    assert_descriptions_exist(page)
    assert_error_linked(page, "sender")
