"""What jobs cost per pipeline, computed from the fees the gateway booked on its stage attempts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from livepeer_ai.gateway import costs
from livepeer_ai.gateway.costs import job_costs
from livepeer_ai.gateway.models import AttemptOutcome, Job
from tests.dashboard.factories import make_attempt

pytestmark = pytest.mark.django_db

MEGAPIXEL = 10**6
SUCCEEDED = AttemptOutcome.SUCCEEDED


def paid_job(fee_wei: int, units: int = MEGAPIXEL, rate_e8: int | None = 3000 * 10**8, **fields) -> Job:
    job = Job.objects.create(prompt="cost", stages=["text-to-image"], usd_per_eth_e8=rate_e8)
    make_attempt(None, SUCCEEDED, job=job, fee_wei=fee_wei, units=units, **fields)
    return job


def since():
    return timezone.now() - timedelta(days=30)


def test_median_and_p90_per_job_and_per_megapixel_from_booked_fees():
    # Ten jobs paying 1..10 × 10**15 wei for one megapixel each, and one more for 2 megapixels.
    for n in range(1, 11):
        paid_job(n * 10**15)
    paid_job(11 * 10**15, units=2 * MEGAPIXEL)
    cost = job_costs(since(), timezone.now()).pipelines["text-to-image"]
    assert cost.job_count == 11
    # Nearest rank: the 6th of 11 fees is the median, the 10th the p90.
    assert cost.summary["median_fee_wei"] == 6 * 10**15
    assert cost.summary["p90_fee_wei"] == 10 * 10**15
    # Per megapixel: 1..10 × 10**15 and 5.5 × 10**15 → sorted, the 6th is 5.5 × 10**15.
    assert cost.summary["median_unit_wei"] == 55 * 10**14
    assert cost.unit.name == "megapixel"


def test_usd_is_at_each_jobs_own_rate_not_todays():
    paid_job(10**15, rate_e8=2000 * 10**8)  # $2.00
    paid_job(10**15, rate_e8=4000 * 10**8)  # $4.00
    paid_job(10**15, rate_e8=None)  # no rate then: counts in ETH only
    cost = job_costs(since(), timezone.now()).pipelines["text-to-image"]
    assert cost.job_count == 3 and cost.priced_jobs == 2
    assert cost.summary["median_usd"] == Decimal("2")
    assert cost.summary["p90_usd"] == Decimal("4")
    assert cost.summary["median_fee_wei"] == 10**15


def test_a_jobs_stages_of_one_pipeline_add_up_and_pipelines_stay_apart():
    job = paid_job(3 * 10**14, units=MEGAPIXEL // 4, pipeline="upscale", stage="upscale")
    make_attempt(None, SUCCEEDED, job=job, fee_wei=5 * 10**14, units=MEGAPIXEL // 4, pipeline="upscale")
    make_attempt(None, SUCCEEDED, job=job, fee_wei=7, units=1, pipeline="text-to-image")
    costs = job_costs(since(), timezone.now()).pipelines
    assert costs["upscale"].job_count == 1
    assert costs["upscale"].summary["median_fee_wei"] == 8 * 10**14
    # 8e14 wei for half a megapixel: 1.6e15 per megapixel.
    assert costs["upscale"].summary["median_unit_wei"] == 16 * 10**14
    assert costs["text-to-image"].summary["median_fee_wei"] == 7


def test_unpaid_failed_and_old_attempts_cost_nothing():
    paid_job(10**15)
    job = Job.objects.create(prompt="cost", stages=["text-to-image"])
    make_attempt(None, AttemptOutcome.FAILED, job=job, fee_wei=None)
    make_attempt(None, SUCCEEDED, job=job, fee_wei=None)  # off chain: nothing paid
    paid_job(9 * 10**18, started_at=timezone.now() - timedelta(days=31))
    cost = job_costs(since(), timezone.now()).pipelines["text-to-image"]
    assert cost.job_count == 1 and cost.summary["p90_fee_wei"] == 10**15


def test_per_unit_fee_is_rounded_up_to_the_wei():
    paid_job(1, units=3 * MEGAPIXEL)  # a third of a wei per megapixel bills as 1
    assert job_costs(since(), timezone.now()).pipelines["text-to-image"].summary["median_unit_wei"] == 1


def test_audio_costs_per_second_and_fees_per_runner_hour():
    # 30 s of audio (30,000 ms) for 3e15 wei, on a node busy for 2 s: 1e14 wei per second of audio.
    paid_job(3 * 10**15, units=30_000, pipeline="audio-to-text", stage="audio-to-text", took_s=2.0)
    cost = job_costs(since(), timezone.now()).pipelines["audio-to-text"]
    assert cost.unit.name == "second of audio"
    assert cost.summary["median_unit_wei"] == 10**14
    assert cost.wei_per_runner_hour == 3 * 10**15 * 1800
    # $9 at $3000 per ETH over 2 s: $16,200 per hour.
    assert cost.usd_per_runner_hour == Decimal(16200)


def test_llm_costs_per_thousand_tokens_billed():
    # 256 tokens of max_tokens for 256e9 wei: 1e12 wei per 1,000 tokens.
    paid_job(256 * 10**9, units=256, pipeline="llm", stage="llm")
    cost = job_costs(since(), timezone.now()).pipelines["llm"]
    assert cost.unit.name == "1,000 tokens"
    assert cost.summary["median_unit_wei"] == 10**12


def test_speech_costs_per_thousand_characters_billed():
    # 500 characters of text for 10**12 wei: 2 * 10**12 wei per 1,000 characters.
    paid_job(10**12, units=500, pipeline="text-to-speech", stage="text-to-speech")
    cost = job_costs(since(), timezone.now()).pipelines["text-to-speech"]
    assert cost.unit.name == "1,000 characters"
    assert cost.summary["median_unit_wei"] == 2 * 10**12


def test_a_bounded_read_keeps_only_jobs_whose_every_stage_it_read(monkeypatch):
    monkeypatch.setattr(costs, "COST_SAMPLES", 3)
    now = timezone.now()

    def job(created_minutes_ago: int, *stages: tuple[int, int]) -> None:
        made = Job.objects.create(
            prompt="cost", stages=["upscale"], created_at=now - timedelta(minutes=created_minutes_ago)
        )
        for started_minutes_ago, fee in stages:
            make_attempt(
                None, SUCCEEDED, job=made, fee_wei=fee, started_at=now - timedelta(minutes=started_minutes_ago)
            )

    job(180, (180, 1), (10, 2))  # its first stage is older than the three newest read
    job(60, (50, 10))  # read, but submitted before the oldest stage read: it might have had more
    job(30, (20, 10))
    sample = job_costs(since(), now + timedelta(seconds=1))
    assert sample.truncated and sample.since == now - timedelta(minutes=50)
    cost = sample.pipelines["text-to-image"]
    assert cost.job_count == 1 and cost.summary["median_fee_wei"] == 10
