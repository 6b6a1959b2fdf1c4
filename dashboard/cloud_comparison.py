"""Our cost per job beside each public cloud price (`docs/benchmarks/cloud_prices.csv`), with the ratio.

A cloud price is compared like with like:

- GPU time (per second or per hour, any pipeline) against what jobs here paid per
  hour of the nodes' time on them, for each pipeline (the gateway measures that
  time per stage, so it includes the node's own overhead);
- a price per video or per image against the median fee per job of its pipeline;
- a price per megapixel against the median fee per megapixel of its pipeline.

Our USD figures are at each job's recorded ETH/USD rate (gateway/costs.py); with
no rate recorded there is no ratio, never one at today's price passed off as then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from dashboard.cloud_prices import CloudPrice
from livepeer_ai.gateway.costs import CostSample

PER_OUTPUT_UNITS = {"video": "job", "image": "job", "megapixel": "megapixel"}


@dataclass(frozen=True)
class Comparison:
    reference: CloudPrice
    pipeline: str
    # What our figure is per: "hour of node time", "job", "megapixel".
    per: str
    reference_usd: Decimal  # the cloud's price in the same terms (GPU time as per hour)
    our_wei: int | None
    our_usd: Decimal | None
    jobs: int
    since: datetime
    until: datetime

    @property
    def ratio(self) -> Decimal | None:
        """Ours over theirs: 3.2 means jobs here cost 3.2 times the cloud's price."""
        if self.our_usd is None:
            return None
        return self.our_usd / self.reference_usd

    @property
    def ratio_text(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "–"
        # Two significant digits: the reference prices themselves are rounded figures.
        return f"{ratio:.2g}×" if ratio < 10 else f"{ratio:,.0f}×"


def compare(sample: CostSample, references: list[CloudPrice]) -> list[Comparison]:
    """One row per reference and pipeline it applies to (GPU time: every pipeline with jobs), in the file's
    order; a reference with no jobs here to compare still has its row."""
    costs, since, until = sample.pipelines, sample.since, sample.until
    rows = []
    for reference in references:
        hourly = reference.usd_per_gpu_hour
        if hourly is not None:
            for pipeline, pipeline_cost in costs.items():
                rows.append(
                    Comparison(
                        reference,
                        pipeline,
                        "hour of node time",
                        hourly,
                        pipeline_cost.wei_per_runner_hour,
                        pipeline_cost.usd_per_runner_hour,
                        pipeline_cost.job_count,
                        since,
                        until,
                    )
                )
            if not costs:
                rows.append(Comparison(reference, "", "hour of node time", hourly, None, None, 0, since, until))
            continue
        per = PER_OUTPUT_UNITS[reference.unit]
        cost = costs.get(reference.pipeline)
        our_wei: int | None = None
        our_usd: Decimal | None = None
        if cost is not None:
            figures = cost.summary
            if per == "job":
                our_wei, our_usd = figures["median_fee_wei"], figures["median_usd"]
            else:
                our_wei, our_usd = figures["median_unit_wei"], figures["median_unit_usd"]
        jobs = cost.job_count if cost is not None else 0
        rows.append(
            Comparison(reference, reference.pipeline, per, reference.price_usd, our_wei, our_usd, jobs, since, until)
        )
    return rows
