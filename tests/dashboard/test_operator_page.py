"""The operator page: live capacity and prices, jobs and failures, latency, earnings in exact wei."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import NodeSnapshot
from livepeer_ai.gateway.models import AttemptOutcome, Orchestrator
from livepeer_ai.payments.earnings import rebuild
from livepeer_ai.payments.models import RedemptionStatus
from tests.dashboard.factories import make_attempt, make_ticket

INFO = {
    "address": "",
    "version": "0.1.0",
    "capabilities": [
        {
            "pipeline": "text-to-image",
            "model_id": "livepeer-ai/tiny-sdxl-turbo",
            "warm": True,
            "capacity": 2,
            "in_use": 1,
            "price_per_unit": 4768371,
            "pixels_per_unit": 1,
            "runners": [
                {"id": "t2i-0", "state": "ready", "restarts": 0, "in_use": True, "last_error": ""},
                {"id": "t2i-1", "state": "ready", "restarts": 0, "in_use": False, "last_error": ""},
                {"id": "t2i-2", "state": "restarting", "restarts": 3, "in_use": False, "last_error": "exit code 137"},
            ],
            "stats": {"served": 12, "insufficient_capacity": 4},
        },
        {
            "pipeline": "image-to-video",
            "model_id": "livepeer-ai/tiny-svd-xt",
            "warm": False,
            "capacity": 0,
            "in_use": 0,
            "price_per_unit": 99,
            "pixels_per_unit": 10,
            "runners": [],
            "stats": {},
        },
    ],
}


@pytest.fixture
def node(personas):
    orchestrator = Orchestrator.objects.create(
        service_uri="http://127.0.0.1:8935", address=personas.operator_address, info={**INFO}
    )
    NodeSnapshot.objects.create(
        orchestrator=orchestrator,
        reachable=True,
        info={**INFO, "address": personas.operator_address},
        runners=[{"id": "t2i-2", "log_tail": "Traceback: CUDA out of memory"}],
    )
    return orchestrator


def page(client, personas, query: str = "") -> str:
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def figure(html: str, name: str) -> str:
    found = re.search(rf'id="figure-{name}"[^>]*><strong>([^<]*)</strong>', html)
    assert found, name
    return found.group(1)


@pytest.mark.django_db
def test_shows_capacity_runners_and_prices_per_pipeline_and_model(client, personas, node):
    html = page(client, personas)
    assert (
        'data-pipeline="text-to-image" data-model="livepeer-ai/tiny-sdxl-turbo" data-in-use="1" data-idle="1"' in html
    )
    assert 'data-pipeline="image-to-video" data-model="livepeer-ai/tiny-svd-xt" data-in-use="0" data-idle="0"' in html
    assert '<span class="badge warm">warm</span>' in html and '<span class="badge cold">cold</span>' in html
    assert "2 healthy" in html and "1 restarting" in html and "3 restarts" in html
    # The restarting runner's error and log tail (from /runners) are there to debug it.
    assert "exit code 137" in html and "Traceback: CUDA out of memory" in html
    assert "4768371 wei / 1 px" in html and "99 wei / 10 px" in html
    assert "12 served · 4 refused for capacity" in html
    assert 'ws-connect="/ws/dashboard/nodes/' + personas.operator_address + '/"' in html


@pytest.mark.django_db
def test_prices_of_pipelines_not_billed_in_pixels_read_in_their_own_units(client, personas, node):
    def offer(pipeline: str, model_id: str, price: int, per: int) -> dict:
        return {
            "pipeline": pipeline,
            "model_id": model_id,
            "warm": True,
            "capacity": 1,
            "in_use": 0,
            "price_per_unit": price,
            "pixels_per_unit": per,
            "runners": [],
            "stats": {},
        }

    info = {
        **INFO,
        "address": personas.operator_address,
        "capabilities": [
            offer("llm", "livepeer-ai/tiny-llama-instruct", 1_000_000_000, 1),
            offer("audio-to-text", "livepeer-ai/tiny-whisper", 12_000_000, 1),
            offer("text-to-speech", "livepeer-ai/tiny-vits", 2_000_000_000, 10),
            offer("segment-anything-2", "livepeer-ai/tiny-sam2-hiera", 4_768_371, 1),
        ],
    }
    NodeSnapshot.objects.filter(orchestrator=node).update(info=info)
    html = page(client, personas)
    prices = re.findall(r'data-label="Price" class="num">([^<]*)</td>', html)
    assert prices == [
        "1000000000 wei / 1 token",
        "12000000 wei / 1 ms of audio",
        "2000000000 wei / 10 characters",
        "4768371 wei / 1 px",
    ]


@pytest.mark.django_db
def test_an_unreachable_node_says_so_and_marks_capacity_as_last_known(client, personas, node):
    NodeSnapshot.objects.filter(orchestrator=node).update(reachable=False, error="/info failed: connection refused")
    html = page(client, personas)
    assert "unreachable" in html and "/info failed: connection refused" in html and "last known capacity" in html


@pytest.mark.django_db
def test_counts_jobs_failures_capacity_losses_and_latency_of_this_node_only(client, personas, node):
    other = Orchestrator.objects.create(service_uri="http://127.0.0.1:8936", address=personas.other_operator_address)
    for took in (1.0, 2.0, 3.0):
        make_attempt(node, AttemptOutcome.SUCCEEDED, took_s=took)
    make_attempt(node, AttemptOutcome.SUCCEEDED, pipeline="image-to-video", took_s=10.0)
    make_attempt(node, AttemptOutcome.FAILED, status_code=500, message="GPU out of memory.")
    make_attempt(node, AttemptOutcome.NO_CAPACITY, status_code=503, message="insufficient capacity")
    make_attempt(node, AttemptOutcome.NO_CAPACITY, status_code=503, message="insufficient capacity")
    make_attempt(node, AttemptOutcome.REJECTED, status_code=400, message="bad width")
    # Older than 24 hours: in the 7-day view only.
    make_attempt(node, AttemptOutcome.FAILED, status_code=504, started_at=timezone.now() - timedelta(days=2))
    # Another node's work never shows here.
    make_attempt(other, AttemptOutcome.FAILED, status_code=500)
    make_attempt(other, AttemptOutcome.SUCCEEDED, took_s=99.0)

    day = page(client, personas, "?period=24h")
    assert figure(day, "served") == "4"
    assert figure(day, "success-rate") == "80.0 %"
    assert figure(day, "failed") == "1"
    assert figure(day, "lost-capacity") == "2"
    assert figure(day, "rejected") == "1"
    assert re.search(
        r'data-status-code="500"><td data-label="Status">500</td><td[^>]*>1</td><td[^>]*>GPU out of memory.', day
    )
    assert 'data-status-code="504"' not in day
    latency = re.search(
        r'data-pipeline="text-to-image"><td[^>]*>text-to-image</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td><td[^>]*>3</td>',
        day,
    )
    assert latency and latency.groups() == ("2.00 s", "3.00 s")

    week = page(client, personas, "?period=7d")
    assert figure(week, "failed") == "2" and figure(week, "success-rate") == "66.7 %"
    assert 'data-status-code="504"' in week


@pytest.mark.django_db
def test_earnings_over_24h_7d_and_30d_are_exact_to_the_wei(client, personas, node):
    now = timezone.now()
    address = personas.operator_address
    big = 2**70 + 1  # beyond 64 bits: no float or SQL SUM would keep it
    make_ticket(address, now - timedelta(hours=1), expected_value=big)
    make_ticket(address, now - timedelta(days=3), expected_value=5)
    make_ticket(address, now - timedelta(days=20), expected_value=7)
    make_ticket(address, now - timedelta(days=40), expected_value=10**18)  # outside every window
    make_ticket(
        address,
        now - timedelta(hours=2),
        winning=True,
        face_value=3 * 10**15,
        status=RedemptionStatus.REDEEMED,
        redeemed_at=now - timedelta(hours=1),
        tx_hash="0x" + "ee" * 32,
        gas_used=91_000,
        expected_value=0,
    )
    make_ticket(
        address,
        now - timedelta(days=5),
        winning=True,
        face_value=4 * 10**15,
        status=RedemptionStatus.PENDING,
        expected_value=0,
    )
    make_ticket(personas.other_operator_address, now, expected_value=10**17)  # another node's
    rebuild()

    html = page(client, personas, "?period=7d")
    rows = dict(re.findall(r'<tr data-window="(\w+)">.*?data-wei="(\d+)"', html, re.S))
    assert rows == {"24h": str(big), "7d": str(big + 5), "30d": str(big + 12)}
    assert 'data-label="ETH redeemed" class="num" data-wei="3000000000000000"><span class="amount"' in html
    assert 'title="3000000000000000 wei (0.003 ETH)">0.003 ETH</span>' in html
    winning_7d = re.search(
        r'<tr data-window="7d">.*?data-label="Winning tickets" class="num" data-wei="(\d+)">(\d+)', html, re.S
    )
    assert winning_7d.groups() == (str(7 * 10**15), "2")
    assert re.search(r'id="figure-pending" data-wei="4000000000000000"><strong><span [^>]*>0.004 ETH</span>', html)
    # Three charts for the period, each with its own title and description, and a table of the same numbers.
    for chart in ("chart-ev", "chart-winning", "chart-redeemed"):
        assert f'<svg id="{chart}"' in html and f'aria-labelledby="{chart}-title {chart}-desc"' in html
    assert html.count("<rect ") == 3 * 7
    assert "0x" + "ee" * 32 in html  # the latest tickets list the redemption's tx hash


@pytest.mark.django_db
def test_switching_the_period_with_htmx_sends_only_that_part(client, personas, node):
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/?period=30d", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="period" data-period="30d">')
    assert "<html" not in html and html.count("<rect ") == 3 * 30


@pytest.mark.django_db
def test_an_unknown_period_is_a_clear_400(client, personas, node):
    client.force_login(personas.operator)
    response = client.get(f"/dashboard/nodes/{personas.operator_address}/?period=1y")
    assert response.status_code == 400 and b"period must be one of 24h, 7d, 30d" in response.content
