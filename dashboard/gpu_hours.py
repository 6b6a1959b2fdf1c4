"""What an hour of a node's runner time earned, per pipeline: expected value received over busy time.

Expected value is the node's ticket income (docs/protocol.md §3: a ticket is
worth its face value × win probability whether or not it wins), summed exactly per
pipeline from the tickets' manifest ids: the period's, or its latest EARNINGS_SAMPLE
when it holds more (then busy time is read over the same span). Busy time is the time
the gateway measured on the node for each stage that ran there (succeeded, failed, canceled or
lost mid-run; not refusals for capacity or bad requests, which occupy no runner).
USD is at each ticket's recorded rate; a pipeline with any ticket of unknown
rate has no USD figure rather than a partial one.

Two queries: a bounded read of tickets, and one grouped aggregate of attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q, Sum

from livepeer_ai.gateway.models import AttemptOutcome, StageAttempt
from livepeer_ai.payments.amounts import usd_value
from livepeer_ai.payments.models import USD_RATE_SCALE, ReceivedTicket

SECONDS_PER_HOUR = 3600
# The most recent tickets read: the page costs the same for a busy node (the rollup has no pipelines).
EARNINGS_SAMPLE = 5000
# Outcomes of a stage that had a runner working on it.
RAN = [AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED, AttemptOutcome.CANCELED, AttemptOutcome.LOST]


@dataclass
class PipelineEarnings:
    pipeline: str
    expected_value_wei: int = 0
    expected_value_usd: Decimal | None = Decimal(0)
    busy_s: float = 0.0
    # Succeeded stages only: what the node takes per unit it is paid for.
    served_s: float = 0.0
    served_units: int = 0

    @property
    def wei_per_gpu_hour(self) -> int | None:
        if self.busy_s <= 0:
            return None
        return int(self.expected_value_wei * SECONDS_PER_HOUR / Fraction(Decimal(str(self.busy_s))))

    @property
    def usd_per_gpu_hour(self) -> Decimal | None:
        if self.busy_s <= 0 or self.expected_value_usd is None:
            return None
        return self.expected_value_usd * SECONDS_PER_HOUR / Decimal(str(self.busy_s))

    @property
    def seconds_per_unit(self) -> Fraction | None:
        """Measured seconds per billed unit (pixel, millisecond of audio) over the succeeded stages."""
        if self.served_units <= 0 or self.served_s <= 0:
            return None
        return Fraction(Decimal(str(self.served_s))) / self.served_units


def pipeline_of(manifest_id: str) -> str:
    """'text-to-image_livepeer-ai/tiny-sdxl-turbo' → 'text-to-image' (pipelines have no underscore)."""
    return manifest_id.partition("_")[0]


@dataclass
class GpuHours:
    """Earnings per GPU-hour per pipeline, and the span read: the period, or since the oldest of its
    latest EARNINGS_SAMPLE tickets when it holds more."""

    pipelines: list[PipelineEarnings]
    since: datetime
    truncated: bool


def earnings_per_gpu_hour(address: str, orchestrator_ids: Sequence[int], since: datetime) -> GpuHours:
    tickets = list(
        ReceivedTicket.objects.filter(recipient=address, received_at__gte=since)
        .order_by("-received_at")
        .values_list("manifest_id", "expected_value", "usd_per_eth_e8", "received_at")[:EARNINGS_SAMPLE]
    )
    truncated = len(tickets) == EARNINGS_SAMPLE
    if truncated:
        # A bounded read, newest first on the (recipient, received_at) index: busy time over the same span.
        since = tickets[-1][-1]
    by_pipeline: dict[str, PipelineEarnings] = {}

    def row(pipeline: str) -> PipelineEarnings:
        return by_pipeline.setdefault(pipeline, PipelineEarnings(pipeline))

    for manifest, expected_value, rate_e8, _received in tickets:
        earned = row(pipeline_of(manifest))
        earned.expected_value_wei += int(expected_value)
        if rate_e8 is None or earned.expected_value_usd is None:
            earned.expected_value_usd = None
        else:
            rate = Decimal(rate_e8).scaleb(-USD_RATE_SCALE)
            earned.expected_value_usd += usd_value(int(expected_value), rate)
    succeeded = Q(outcome=AttemptOutcome.SUCCEEDED)
    busy = (
        StageAttempt.objects.filter(
            orchestrator_id__in=orchestrator_ids, started_at__gte=since, outcome__in=RAN, took_s__isnull=False
        )
        .values_list("pipeline")
        .annotate(busy=Sum("took_s"), served=Sum("took_s", filter=succeeded), units=Sum("units", filter=succeeded))
        .order_by()
    )
    for pipeline, busy_s, served_s, units in busy:
        earned = row(pipeline)
        earned.busy_s, earned.served_s, earned.served_units = busy_s or 0.0, served_s or 0.0, int(units or 0)
    return GpuHours([by_pipeline[name] for name in sorted(by_pipeline)], since, truncated)
