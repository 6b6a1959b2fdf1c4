"""The public network overview: orchestrators, jobs per pipeline over time, winning-ticket redemptions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import NodeSnapshot
from livepeer_ai.gateway.models import AttemptOutcome, Job, Orchestrator
from livepeer_ai.payments.models import RedemptionStatus
from tests.dashboard.factories import make_attempt, make_ticket

pytestmark = pytest.mark.django_db

WARM_T2I = {
    "pipeline": "text-to-image",
    "model_id": "livepeer-ai/tiny-sdxl-turbo",
    "warm": True,
    "capacity": 2,
    "in_use": 1,
}
COLD_I2V = {
    "pipeline": "image-to-video",
    "model_id": "livepeer-ai/tiny-svd-xt",
    "warm": False,
    "capacity": 1,
    "in_use": 0,
}


def node(uri: str, address: str, stake: int | None, capabilities: list[dict], reachable: bool = True) -> Orchestrator:
    orchestrator = Orchestrator.objects.create(service_uri=uri, address=address)
    NodeSnapshot.objects.create(
        orchestrator=orchestrator,
        reachable=reachable,
        info={"address": address, "capabilities": capabilities},
        stake=stake,
    )
    return orchestrator


def overview(client) -> str:
    response = client.get("/network/")
    assert response.status_code == 200
    return response.content.decode()


def test_lists_orchestrators_by_stake_with_warm_models_capacity_and_scores(client, personas):
    small = node("http://b.example", personas.other_operator_address, 10**18, [COLD_I2V])
    big = node("http://a.example", personas.operator_address, 2 * 10**18, [WARM_T2I, COLD_I2V])
    for took in (1.0, 2.0, 3.0):
        make_attempt(big, AttemptOutcome.SUCCEEDED, took_s=took, units=10**6, steps=2)
    make_attempt(big, AttemptOutcome.FAILED)
    make_attempt(big, AttemptOutcome.NO_CAPACITY)  # not a failure of the node
    make_attempt(big, AttemptOutcome.SUCCEEDED, started_at=timezone.now() - timedelta(days=8))  # too old
    make_attempt(small, AttemptOutcome.FAILED)

    html = overview(client)
    rows = re.findall(r'<tr data-address="([^"]+)"', html)
    assert rows == [personas.operator_address, personas.other_operator_address]
    first = html[
        html.index(f'<tr data-address="{personas.operator_address}"') : html.index(
            f'<tr data-address="{personas.other_operator_address}"'
        )
    ]
    assert f'data-wei="{2 * 10**18}"><span class="amount" title="{2 * 10**18} wei (2 ETH)">2 ETH</span>' in first
    warm = re.search(r'data-label="Warm models">(.*?)</td>', first).group(1)
    assert "text-to-image · livepeer-ai/tiny-sdxl-turbo" in warm and "image-to-video" not in warm
    assert "1 / 3" in first  # in use / slots over both capabilities
    assert "75.0 %" in first and "3 of 4" in first
    # Mean seconds per megapixel per step: (1 + 2 + 3) / 3 s over 1 MP × 2 steps.
    assert "text-to-image: 1.000 s/MP·step" in first
    assert "0.0 %" in html[html.index(f'<tr data-address="{personas.other_operator_address}"') :]


def test_latency_scores_read_in_each_pipelines_own_units(client, personas):
    orchestrator = node("http://a.example", personas.operator_address, None, [WARM_T2I])
    # Units as the gateway bills them (protocol/units.py); steps only where the pipeline has them.
    make_attempt(orchestrator, AttemptOutcome.SUCCEEDED, pipeline="llm", took_s=0.5, units=100, steps=0)
    make_attempt(orchestrator, AttemptOutcome.SUCCEEDED, pipeline="audio-to-text", took_s=3.0, units=60_000, steps=0)
    make_attempt(orchestrator, AttemptOutcome.SUCCEEDED, pipeline="text-to-speech", took_s=2.0, units=500, steps=0)
    make_attempt(orchestrator, AttemptOutcome.SUCCEEDED, pipeline="image-to-text", took_s=1.0, units=250_000, steps=0)
    make_attempt(orchestrator, AttemptOutcome.SUCCEEDED, pipeline="upscale", took_s=6.0, units=10**6, steps=75)

    cell = re.search(r'data-label="Latency score \(7 d\)">(.*?)</td>', overview(client), re.S).group(1)
    shown = re.findall(r'<span class="nowrap">([^<]*)</span>', cell)
    assert shown == [
        "audio-to-text: 0.050 s per second of audio",
        "image-to-text: 4.000 s/MP",
        "llm: 5.000 s per 1,000 tokens",
        "text-to-speech: 4.000 s per 1,000 characters",
        "upscale: 0.080 s/MP·step",
    ]


def test_stake_is_unknown_off_chain(client, personas, settings):
    settings.WEB3_PROVIDER_URI = ""
    node("http://a.example", personas.operator_address, None, [WARM_T2I])
    html = overview(client)
    assert 'data-wei="">' in html and '<span class="muted">unknown</span>' in html
    assert "Stake is unknown: this gateway runs off chain." in html


def test_nodes_no_longer_discovered_are_not_listed(client, personas):
    gone = node("http://gone.example", personas.other_operator_address, None, [WARM_T2I])
    NodeSnapshot.objects.filter(orchestrator=gone).update(active=False)
    node("http://a.example", personas.operator_address, None, [WARM_T2I])
    html = overview(client)
    assert "http://a.example" in html and "http://gone.example" not in html


def test_charts_jobs_served_per_pipeline_per_day(client, personas):
    orchestrator = node("http://a.example", personas.operator_address, None, [WARM_T2I])
    now = timezone.now()
    for days_ago, pipeline, jobs in [(0, "text-to-image", 3), (0, "image-to-video", 1), (2, "text-to-image", 2)]:
        for _ in range(jobs):
            job = Job.objects.create(prompt="x", stages=[pipeline])
            make_attempt(
                orchestrator,
                AttemptOutcome.SUCCEEDED,
                job=job,
                pipeline=pipeline,
                started_at=now - timedelta(days=days_ago),
            )
    # A job retried on the same pipeline counts once; failures and old days not at all.
    make_attempt(
        orchestrator, AttemptOutcome.SUCCEEDED, job=job, pipeline="text-to-image", started_at=now - timedelta(days=2)
    )
    make_attempt(orchestrator, AttemptOutcome.FAILED, pipeline="upscale", started_at=now)
    make_attempt(orchestrator, AttemptOutcome.SUCCEEDED, pipeline="upscale", started_at=now - timedelta(days=20))

    html = overview(client)
    assert '<svg id="chart-jobs"' in html
    assert re.findall(r'data-series="([^"]+)"', html) == ["image-to-video", "text-to-image"]
    table = html[html.index('id="jobs-table"') :]
    today = f"{now:%b} {now.day}"
    two_days_ago = now - timedelta(days=2)
    assert re.search(rf'<td data-label="Day \(UTC\)">{today}</td><td[^>]*>1</td><td[^>]*>3</td>', table)
    assert re.search(
        rf'<td data-label="Day \(UTC\)">{two_days_ago:%b} {two_days_ago.day}</td><td[^>]*>0</td><td[^>]*>2</td>', table
    )
    assert table.count('<td data-label="Day (UTC)">') == 14


def test_feed_shows_the_latest_redemptions_with_their_tx_hashes(client, personas):
    now = timezone.now()
    first = make_ticket(
        personas.operator_address,
        winning=True,
        status=RedemptionStatus.REDEEMED,
        face_value=3 * 10**15,
        redeemed_at=now - timedelta(minutes=5),
        tx_hash="0x" + "01" * 32,
    )
    latest = make_ticket(
        personas.other_operator_address,
        winning=True,
        status=RedemptionStatus.REDEEMED,
        face_value=10**16,
        redeemed_at=now,
        tx_hash="0x" + "02" * 32,
    )
    make_ticket(personas.operator_address, winning=True, status=RedemptionStatus.PENDING)
    html = overview(client)
    feed = re.findall(r'data-ticket-id="(\d+)"', html)
    assert feed == [str(latest.id), str(first.id)]
    assert "0x" + "02" * 32 in html and "0.01 ETH" in html and "0.003 ETH" in html
