"""What an hour of a node's runner time earned, per pipeline: expected value received over busy time.

Expected value is the node's ticket income (docs/protocol.md §3: a ticket is
worth its face value × win probability whether or not it wins), summed exactly
per pipeline from the tickets' manifest ids. Busy time is the time the gateway
measured on the node for each stage that ran there (succeeded, failed, canceled or
lost mid-run; not refusals for capacity or bad requests, which occupy no runner).
USD is at each ticket's recorded rate; a pipeline with any ticket of unknown
rate has no USD figure rather than a partial one.

Two queries whatever the number of tickets and attempts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q, Sum

from livepeer_ai.gateway.models import AttemptOutcome, StageAttempt
from livepeer_ai.payments.amounts import usd_value
from livepeer_ai.payments.models import USD_RATE_SCALE, ReceivedTicket
from livepeer_ai.payments.wei_sums import wei_sums

SECONDS_PER_HOUR = 3600
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


def earnings_per_gpu_hour(address: str, orchestrator_ids: Sequence[int], since: datetime) -> list[PipelineEarnings]:
    by_pipeline: dict[str, PipelineEarnings] = {}

    def row(pipeline: str) -> PipelineEarnings:
        return by_pipeline.setdefault(pipeline, PipelineEarnings(pipeline))

    tickets = ReceivedTicket.objects.filter(recipient=address, received_at__gte=since)
    usd: dict[str, Decimal | None] = defaultdict(lambda: Decimal(0))
    for (manifest, rate_e8), expected_value in wei_sums(
        tickets, "expected_value", ["manifest_id", "usd_per_eth_e8"]
    ).items():
        pipeline = pipeline_of(manifest)
        row(pipeline).expected_value_wei += expected_value
        so_far = usd[pipeline]
        if rate_e8 is None or so_far is None:
            usd[pipeline] = None
        else:
            usd[pipeline] = so_far + usd_value(expected_value, Decimal(rate_e8).scaleb(-USD_RATE_SCALE))
    for pipeline, value in usd.items():
        by_pipeline[pipeline].expected_value_usd = value
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
    return [by_pipeline[name] for name in sorted(by_pipeline)]
