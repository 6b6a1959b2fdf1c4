"""What jobs cost here, per pipeline, from the fees the gateway booked (`StageAttempt.fee_wei`).

A job's cost for a pipeline is the sum of the fees of its paid attempts of that
pipeline (upscale pays once per frame; a GIF pays its text-to-image and its
image-to-video stage under each pipeline). Each cost is also read per output
unit: per megapixel billed for the pixel pipelines, per second of audio for
audio-to-text, per 1,000 tokens for llm, per 1,000 characters for text-to-speech
(docs/protocol.md §2.4: what the units are). USD values are at each job's own
recorded ETH/USD rate, so history does not move with today's price; jobs with no
recorded rate count in ETH only.

Fees stay integer wei; a per-unit fee is rounded up to the wei, like the fee rule
itself. Percentiles are nearest-rank (`livepeer_ai.percentile`): a value some
job actually paid.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from livepeer_ai.gateway.models import AttemptOutcome, StageAttempt
from livepeer_ai.payments.amounts import usd_value
from livepeer_ai.payments.models import USD_RATE_SCALE
from livepeer_ai.payments.ticket_value import ceil_div
from livepeer_ai.percentile import percentile

# The most recent paid stages read: the page costs the same on a busy network.
COST_SAMPLES = 5000
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class OutputUnit:
    """How a pipeline's billed units read as output: `per` units make one `name`."""

    name: str
    per: int


MEGAPIXEL = OutputUnit("megapixel", 1_000_000)
AUDIO_SECOND = OutputUnit("second of audio", 1000)  # audio-to-text bills milliseconds
THOUSAND_TOKENS = OutputUnit("1,000 tokens", 1000)  # llm bills max_tokens
THOUSAND_CHARACTERS = OutputUnit("1,000 characters", 1000)  # text-to-speech bills the text's characters
OUTPUT_UNITS = {"audio-to-text": AUDIO_SECOND, "llm": THOUSAND_TOKENS, "text-to-speech": THOUSAND_CHARACTERS}


def output_unit(pipeline: str) -> OutputUnit:
    return OUTPUT_UNITS.get(pipeline, MEGAPIXEL)


@dataclass
class JobCost:
    """One job's fees for one pipeline: what it paid, for how many units, over how many runner seconds."""

    fee_wei: int = 0
    units: int = 0
    runner_s: float = 0.0
    usd_per_eth: Decimal | None = None

    @cached_property
    def usd(self) -> Decimal | None:
        """Read once the job's fees are all added up (`job_costs`), then kept: a page asks for it often."""
        return None if self.usd_per_eth is None else usd_value(self.fee_wei, self.usd_per_eth)


def _wei(values: list[int], fraction: float) -> int | None:
    found = percentile(values, fraction)
    return None if found is None else int(found)


def _usd(values: list[Decimal], fraction: float) -> Decimal | None:
    ordered = sorted(values)
    # The same nearest rank, taken over positions so the Decimal itself comes back, never a float.
    rank = percentile(range(len(ordered)), fraction)
    return None if rank is None else ordered[int(rank)]


@dataclass
class PipelineCost:
    pipeline: str
    unit: OutputUnit
    jobs: list[JobCost] = field(default_factory=list)

    @property
    def job_count(self) -> int:
        return len(self.jobs)

    @cached_property
    def priced_jobs(self) -> int:
        """Jobs with a recorded ETH/USD rate: the USD figures are over these."""
        return sum(1 for job in self.jobs if job.usd_per_eth is not None)

    def fee_per_job_wei(self, fraction: float) -> int | None:
        return _wei([job.fee_wei for job in self.jobs], fraction)

    def fee_per_unit_wei(self, fraction: float) -> int | None:
        """Wei per output unit (megapixel, second of audio), each job's rounded up to the wei."""
        return _wei([ceil_div(job.fee_wei * self.unit.per, job.units) for job in self.jobs if job.units], fraction)

    def usd_per_job(self, fraction: float) -> Decimal | None:
        return _usd([usd for job in self.jobs if (usd := job.usd) is not None], fraction)

    def usd_per_unit(self, fraction: float) -> Decimal | None:
        values = [usd * self.unit.per / job.units for job in self.jobs if job.units and (usd := job.usd) is not None]
        return _usd(values, fraction)

    @cached_property
    def runner_s(self) -> float:
        return sum(job.runner_s for job in self.jobs)

    @cached_property
    def wei_per_runner_hour(self) -> int | None:
        """What the fees paid come to per hour of the nodes' time on these jobs (the gateway's measure of a stage)."""
        seconds = self.runner_s
        if seconds <= 0:
            return None
        return int(sum(job.fee_wei for job in self.jobs) * SECONDS_PER_HOUR / Decimal(str(seconds)))

    @cached_property
    def usd_per_runner_hour(self) -> Decimal | None:
        """The same in USD, over the jobs with a rate (each fee at its job's rate)."""
        priced = [job for job in self.jobs if job.usd is not None]
        seconds = sum(job.runner_s for job in priced)
        if seconds <= 0:
            return None
        return sum((job.usd or Decimal(0) for job in priced), Decimal(0)) * SECONDS_PER_HOUR / Decimal(str(seconds))

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The page's figures by name (a template calls no method with arguments)."""
        return {
            "median_fee_wei": self.fee_per_job_wei(0.5),
            "p90_fee_wei": self.fee_per_job_wei(0.9),
            "median_unit_wei": self.fee_per_unit_wei(0.5),
            "p90_unit_wei": self.fee_per_unit_wei(0.9),
            "median_usd": self.usd_per_job(0.5),
            "p90_usd": self.usd_per_job(0.9),
            "median_unit_usd": self.usd_per_unit(0.5),
            "p90_unit_usd": self.usd_per_unit(0.9),
        }


@dataclass
class CostSample:
    """The costs per pipeline, and the span they were read over: the asked period, or its latest
    COST_SAMPLES paid stages when it holds more (then `since` is the oldest of those)."""

    pipelines: dict[str, PipelineCost]
    since: datetime
    until: datetime
    truncated: bool


def job_costs(since: datetime, until: datetime) -> CostSample:
    """The cost of each job submitted since `since` that paid for each pipeline before `until`: one
    query, reading at most COST_SAMPLES stages (newest first, on the (outcome, started_at) index).
    A job counts only when all its stages fall in the span read, never a part of its fees."""
    rows = list(
        StageAttempt.objects.filter(
            outcome=AttemptOutcome.SUCCEEDED,
            fee_wei__isnull=False,
            started_at__gte=since,
            started_at__lt=until,
            job__created_at__gte=since,
        )
        .order_by("-started_at")
        .values_list(
            "pipeline", "job_id", "fee_wei", "units", "took_s", "job__usd_per_eth_e8", "job__created_at", "started_at"
        )[:COST_SAMPLES]
    )
    truncated = len(rows) == COST_SAMPLES
    if truncated:
        # Stages started before the oldest one read are unread: only jobs submitted after it are whole.
        since = rows[-1][-1]
        rows = [row for row in rows if row[-2] > since]
    per_job: dict[str, dict[Any, JobCost]] = defaultdict(dict)
    for pipeline, job_id, fee, units, took_s, rate_e8, _created, _started in rows:
        rate = None if rate_e8 is None else Decimal(rate_e8).scaleb(-USD_RATE_SCALE)
        cost = per_job[pipeline].setdefault(job_id, JobCost(usd_per_eth=rate))
        cost.fee_wei += int(fee or 0)  # never None: the filter above
        cost.units += int(units)
        cost.runner_s += took_s or 0.0
    pipelines = {
        pipeline: PipelineCost(pipeline, output_unit(pipeline), list(jobs.values()))
        for pipeline, jobs in sorted(per_job.items())
    }
    return CostSample(pipelines, since, until, truncated)
