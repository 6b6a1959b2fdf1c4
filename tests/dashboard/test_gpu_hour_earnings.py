"""Operators: earnings per GPU-hour from busy time, and the pricing helper's integer-wei arithmetic."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.utils import timezone

from dashboard import gpu_hours
from dashboard.gpu_hours import earnings_per_gpu_hour
from dashboard.pricing import Offer, offer_for, price_for_hourly, pricing_rows, wei_per_unit
from livepeer_ai.gateway.models import AttemptOutcome, Orchestrator
from tests.dashboard.factories import make_attempt, make_ticket

RATE_E8 = 3000 * 10**8
EV = 10**13  # make_ticket's expected value
I2V = "image-to-video_livepeer-ai/tiny-svd-xt"


@pytest.fixture
def node(personas):
    return Orchestrator.objects.create(service_uri="http://127.0.0.1:8935", address=personas.operator_address)


@pytest.fixture
def configured_rate(settings):
    settings.WEB3_PROVIDER_URI = settings.ETH_USD_FEED_ADDRESS = ""
    settings.ETH_USD_PRICE = Decimal("2000")


def since():
    return timezone.now() - timedelta(days=7)


@pytest.mark.django_db
def test_earnings_per_gpu_hour_are_expected_value_over_the_time_runners_were_busy(personas, node):
    address = personas.operator_address
    for _ in range(3):
        make_ticket(address, usd_per_eth_e8=RATE_E8)
    make_ticket(address, manifest_id=I2V, expected_value=7 * EV, usd_per_eth_e8=RATE_E8)
    make_ticket(personas.other_operator_address, usd_per_eth_e8=RATE_E8)  # another node's
    make_ticket(address, received_at=timezone.now() - timedelta(days=8))  # before the period
    make_attempt(node, AttemptOutcome.SUCCEEDED, took_s=2.0)
    make_attempt(node, AttemptOutcome.FAILED, took_s=1.0)  # a runner worked on it: busy
    make_attempt(node, AttemptOutcome.NO_CAPACITY, took_s=5.0)  # refused: no runner was busy
    make_attempt(node, AttemptOutcome.REJECTED, took_s=5.0)
    make_attempt(None, AttemptOutcome.SUCCEEDED, took_s=50.0)  # not on this node
    earned = {row.pipeline: row for row in earnings_per_gpu_hour(address, [node.id], since()).pipelines}
    t2i = earned["text-to-image"]
    assert (t2i.expected_value_wei, t2i.busy_s) == (3 * EV, 3.0)
    # 3e13 wei over 3 s: 3.6e16 wei (0.036 ETH) per hour; at $3000 per ETH, $108.
    assert t2i.wei_per_gpu_hour == 36 * 10**15
    assert t2i.usd_per_gpu_hour == Decimal(108)
    # Seconds per unit from the succeeded stage alone: 2 s for 512 × 512 pixels.
    assert t2i.seconds_per_unit == Fraction(2, 512 * 512)
    # Tickets but no busy time seen here: no hourly figure rather than a division by zero.
    assert earned["image-to-video"].expected_value_wei == 7 * EV
    assert earned["image-to-video"].wei_per_gpu_hour is None


@pytest.mark.django_db
def test_usd_per_hour_needs_every_tickets_rate(personas, node):
    make_ticket(personas.operator_address, usd_per_eth_e8=RATE_E8)
    make_ticket(personas.operator_address, usd_per_eth_e8=None)
    make_attempt(node, AttemptOutcome.SUCCEEDED, took_s=1.0)
    (t2i,) = earnings_per_gpu_hour(personas.operator_address, [node.id], since()).pipelines
    assert t2i.wei_per_gpu_hour == 2 * EV * 3600 and t2i.usd_per_gpu_hour is None


@pytest.mark.django_db
def test_a_busy_node_is_read_over_its_latest_tickets_and_the_same_span_of_busy_time(personas, node, monkeypatch):
    monkeypatch.setattr(gpu_hours, "EARNINGS_SAMPLE", 2)
    now = timezone.now()
    make_ticket(personas.operator_address, received_at=now - timedelta(hours=3), expected_value=2**200)
    make_ticket(personas.operator_address, received_at=now - timedelta(hours=2), expected_value=2**70)
    make_ticket(personas.operator_address, received_at=now - timedelta(hours=1), expected_value=2**70)
    make_attempt(node, AttemptOutcome.SUCCEEDED, took_s=100.0, started_at=now - timedelta(hours=3))
    make_attempt(node, AttemptOutcome.SUCCEEDED, took_s=2.0, started_at=now - timedelta(hours=2))
    read = earnings_per_gpu_hour(personas.operator_address, [node.id], since())
    assert read.truncated and read.since == now - timedelta(hours=2)
    (t2i,) = read.pipelines
    # Exact beyond 64 bits, and the busy time of the same span only.
    assert (t2i.expected_value_wei, t2i.busy_s) == (2 * 2**70, 2.0)


def test_break_even_price_earns_the_gpus_hourly_cost():
    # $2 an hour, 1 s per megapixel, $2000 per ETH: $2 / 3600 per 10**6 px = 277,777.7… wei per pixel.
    offer = price_for_hourly(Decimal(2), Fraction(1, 10**6), Decimal(2000))
    assert offer == Offer(277_778, 1)
    # An hour is 3600 megapixels at that speed: it earns at least $2, by under 0.1 %.
    hour_wei = offer.fee_wei(3600 * 10**6)
    assert hour_wei == 3600 * 10**6 * 277_778
    assert Decimal(2) <= Decimal(hour_wei) * 2000 / 10**18 < Decimal("2.002")


def test_small_prices_are_given_per_power_of_ten_of_units_and_rounded_up():
    # $0.36 an hour at 1 ms per megapixel and $4000 per ETH: exactly 25 wei per pixel.
    assert wei_per_unit(Decimal("0.36"), Fraction(1, 10**9), Decimal(4000)) == 25
    assert offer_for(Fraction(25)) == Offer(2500, 100)
    assert offer_for(Fraction(1000, 3)) == Offer(3334, 10)
    assert offer_for(Fraction(1000)) == Offer(1000, 1)
    assert offer_for(Fraction(0)) == Offer(0, 1)


def test_matching_a_cloud_price_scales_with_it():
    cheap = price_for_hourly(Decimal("2.736"), Fraction(1, 10**6), Decimal(2000))
    dear = price_for_hourly(Decimal("5.472"), Fraction(1, 10**6), Decimal(2000))
    assert (cheap.pixels_per_unit, dear.pixels_per_unit) == (1, 1)
    assert dear.price_per_unit in (2 * cheap.price_per_unit, 2 * cheap.price_per_unit - 1)


def test_llm_is_priced_per_token_and_shown_per_thousand_tokens():
    # llm bills tokens, not pixels: 0.5 ms a token reads as 0.5 s per 1,000 tokens, not 500 s per megapixel.
    (row,) = pricing_rows([("llm", Fraction(1, 2000))], Decimal(2), None, Decimal(2000))
    assert (row.unit, row.example, row.example_units) == ("token", "1,000 tokens", 1000)
    assert row.seconds_per_example == 0.5
    assert row.break_even_example_wei == row.break_even.fee_wei(1000)


def test_speech_is_priced_per_character_and_shown_per_thousand_characters():
    # text-to-speech bills its text's characters: 2 ms a character reads as 2 s per 1,000 characters.
    (row,) = pricing_rows([("text-to-speech", Fraction(1, 500))], Decimal(2), None, Decimal(2000))
    assert (row.unit, row.example, row.example_units) == ("character of text", "1,000 characters", 1000)
    assert row.seconds_per_example == 2


@pytest.mark.django_db
def test_the_operator_page_shows_gpu_hour_earnings_and_the_helpers_prices(client, personas, node, configured_rate):
    make_ticket(personas.operator_address, usd_per_eth_e8=RATE_E8)
    # 1 s for a megapixel: the example above.
    make_attempt(node, AttemptOutcome.SUCCEEDED, took_s=1.0, units=10**6)
    client.force_login(personas.operator)
    url = f"/dashboard/nodes/{personas.operator_address}/"
    html = client.get(url).content.decode()
    assert 'data-pipeline="text-to-image" data-wei-per-hour="36000000000000000"' in html
    assert "$108.00" in html
    assert 'id="pricing-empty"' in html
    response = client.get(url, {"gpu_usd_per_hour": "2", "cloud": "0"})
    assert response.status_code == 200
    row = re.search(
        r'<tr data-pipeline="text-to-image"\s+data-break-even="([^"]*)"\s+data-matches-cloud="([^"]*)"',
        response.content.decode(),
    )
    assert row, "no pricing row"
    # The first GPU-time reference is RunPod's A100 at $0.00076/s = $2.736/h.
    assert row.groups() == ("277778/1", "380000/1")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["-1", "lots", "1e400", "0"])
def test_a_bad_hourly_cost_is_a_clear_400(client, personas, node, configured_rate, value):
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/", {"gpu_usd_per_hour": value})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_gpu_usd_per_hour_error"' in html and 'id="pricing"' not in html
