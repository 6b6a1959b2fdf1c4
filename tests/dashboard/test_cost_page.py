"""The cost page: our cost per job from the booked fees beside each cloud reference price, with the ratio and dates."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard.cloud_comparison import compare
from dashboard.cloud_prices import load_cloud_prices
from livepeer_ai.gateway.costs import job_costs
from livepeer_ai.gateway.models import AttemptOutcome, Job
from tests.dashboard.factories import make_attempt

pytestmark = pytest.mark.django_db

RATE_E8 = 3000 * 10**8  # $3000 per ETH, recorded with each job


def paid(pipeline: str, fee_wei: int, took_s: float, units: int = 10**6) -> None:
    job = Job.objects.create(prompt="cost", stages=[pipeline], usd_per_eth_e8=RATE_E8)
    make_attempt(
        None,
        AttemptOutcome.SUCCEEDED,
        job=job,
        pipeline=pipeline,
        stage=pipeline,
        fee_wei=fee_wei,
        took_s=took_s,
        units=units,
    )


def row(html: str, provider: str, pipeline: str) -> str:
    found = re.search(
        rf'<tr data-provider="{re.escape(provider)}" data-pipeline="{pipeline}"[^>]*>(.*?)</tr>', html, re.S
    )
    assert found, f"no row for {provider} {pipeline}"
    return found.group(0)


def test_each_cloud_price_has_our_figure_the_ratio_and_both_dates(client):
    # An SVD video here: 5e13 wei = $0.15 at $3000, twice fal.ai's $0.075.
    paid("image-to-video", 5 * 10**13, took_s=100.0, units=1024 * 576 * 25)
    # One image: 1e15 wei = $3 for 1 s of node time = $10,800 per node-hour.
    paid("text-to-image", 10**15, took_s=1.0)
    response = client.get("/network/costs/")
    assert response.status_code == 200
    html = response.content.decode()
    fal = row(html, "fal.ai", "image-to-video")
    assert 'data-ratio="2' in fal and "2.0×" in fal
    assert "$0.15" in fal and "2026-12-01" in fal and "https://fal.ai/models/fal-ai/stable-video/llms.txt" in fal
    # Replicate's A100 at $5.04 an hour: $10,800 / $5.04 = 2,143 times.
    replicate = row(html, "Replicate", "text-to-image")
    assert "2,143×" in replicate and "$10,800.00" in replicate and "per hour of node time" in replicate
    # RunPod's per-second price reads per hour too: $0.00076 × 3600 = $2.74.
    runpod = row(html, "RunPod", "text-to-image")
    assert "$0.00076 per second" in runpod and "$2.74 per hour" in runpod
    # Our cost table: median and p90 per job, in ETH (exact wei on hover) and USD.
    assert 'data-pipeline="text-to-image" data-median-wei="1000000000000000"' in html
    assert 'title="1000000000000000 wei (0.001 ETH)"' in html


def test_a_reference_without_jobs_here_keeps_its_row_with_no_ratio(client):
    html = client.get("/network/costs/").content.decode()
    assert 'id="no-costs"' in html
    fal = row(html, "fal.ai", "image-to-video")
    assert "no paid jobs" in fal and "–" in fal
    assert len(re.findall(r'<tr data-provider="', html)) == len(load_cloud_prices())


def test_jobs_without_a_recorded_rate_give_no_ratio_rather_than_todays_price():
    job = Job.objects.create(prompt="cost", stages=["image-to-video"], usd_per_eth_e8=None)
    make_attempt(None, AttemptOutcome.SUCCEEDED, job=job, pipeline="image-to-video", fee_wei=10**15)
    now = timezone.now()
    since = now - timedelta(days=30)
    rows = compare(job_costs(since, now), load_cloud_prices())
    fal = next(r for r in rows if r.reference.provider == "fal.ai")
    assert fal.our_wei == 10**15 and fal.our_usd is None and fal.ratio is None and fal.ratio_text == "–"


def test_the_network_menu_links_the_cost_page(client):
    assert 'href="/network/costs/" id="nav-costs"' in client.get("/network/").content.decode()


def test_ratio_is_ours_over_theirs():
    prices = [p for p in load_cloud_prices() if p.provider == "Replicate" and p.gpu == "H100"]
    paid("upscale", 10**15, took_s=3600.0)  # $3 for an hour of node time
    now = timezone.now()
    (comparison,) = compare(job_costs(now - timedelta(days=1), now), prices)
    assert comparison.ratio == Decimal(3) / Decimal("5.49")
    assert comparison.ratio_text == "0.55×"
