"""Amounts on the pages go through the one formatter: readable, exact wei on hover, USD at a known rate."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from livepeer_ai.payments.models import RedemptionStatus
from tests.dashboard.factories import make_ticket

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]

FACE_VALUE = 3_400_807_529_695_102  # the 18-decimal amount the dashboard used to print whole


@pytest.fixture
def configured_rate(settings):
    settings.WEB3_PROVIDER_URI = settings.ETH_USD_FEED_ADDRESS = ""
    settings.ETH_USD_PRICE = Decimal("3000")


def test_tickets_show_readable_eth_usd_at_the_configured_rate_and_the_exact_wei(client, personas, configured_rate):
    make_ticket(personas.operator_address, face_value=FACE_VALUE, expected_value=1_000_000_000)
    client.force_login(personas.operator)
    html = client.get(f"/dashboard/nodes/{personas.operator_address}/tickets/").content.decode()
    assert (
        f'<span class="amount" title="{FACE_VALUE} wei (0.003400807529695102 ETH)">0.003401 ETH</span> '
        '<span class="usd muted" title="at $3,000 per ETH, configured, not live">≈ $10.20</span>'
    ) in html
    assert '<span class="amount" title="1000000000 wei (0.000000001 ETH)">1 gwei</span>' in html
    assert "USD at $3,000 per ETH (configured, not live)" in html
    assert "0.003400807529695102 ETH<" not in html  # no 18-decimal amount as text


def test_the_csv_export_keeps_exact_wei(client, personas, configured_rate):
    make_ticket(personas.operator_address, face_value=FACE_VALUE)
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/tickets.csv")
    (row,) = csv.DictReader(io.StringIO(b"".join(response).decode()))
    assert row["face_value_wei"] == str(FACE_VALUE)


def test_without_a_rate_pages_show_eth_alone_and_say_why(client, personas, settings):
    settings.WEB3_PROVIDER_URI = settings.ETH_USD_FEED_ADDRESS = ""
    settings.ETH_USD_PRICE = None
    make_ticket(
        personas.operator_address,
        winning=True,
        face_value=2 * 10**18,
        status=RedemptionStatus.REDEEMED,
        redeemed_at=timezone.now(),
    )
    html = client.get("/network/").content.decode()
    assert '<span class="amount" title="2000000000000000000 wei (2 ETH)">2 ETH</span>' in html
    assert "no USD price: no ETH/USD feed or ETH_USD_PRICE is configured" in html
    assert "≈ $" not in html


def test_the_operator_page_shows_earnings_in_usd(client, personas, configured_rate):
    make_ticket(personas.operator_address, face_value=10**18, expected_value=10**16)
    client.force_login(personas.operator)
    html = client.get(f"/dashboard/nodes/{personas.operator_address}/").content.decode()
    earnings = html[html.index('id="earnings-section"') :]
    assert re.search(r'title="10000000000000000 wei \(0.01 ETH\)">0.01 ETH</span> <span [^>]*>≈ \$30.00<', earnings)
    assert "USD at $3,000 per ETH (configured, not live)" in earnings
