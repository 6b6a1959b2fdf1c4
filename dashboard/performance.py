"""How nodes served: outcomes, failure reasons, latency, jobs per pipeline, from the gateway's stage attempts.

Every function is a fixed number of aggregate queries whatever the number of
attempts; latency percentiles read at most LATENCY_SAMPLES recent successes per
pipeline (a window function picks them), so a busy node's page costs the same
as a quiet one's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Avg, Count, ExpressionWrapper, F, FloatField, Max, QuerySet, Window
from django.db.models.functions import Greatest, RowNumber, TruncDate

from livepeer_ai.gateway.costs import MEGAPIXEL, output_unit
from livepeer_ai.gateway.models import AttemptOutcome, StageAttempt
from livepeer_ai.gateway.stage_request import counts_steps
from livepeer_ai.percentile import percentile

LATENCY_SAMPLES = 500
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_PERIOD = "7d"


@dataclass(frozen=True)
class FailureReason:
    status_code: int | None
    count: int
    example: str


@dataclass(frozen=True)
class PipelineLatency:
    pipeline: str
    samples: int
    p50_s: float | None
    p95_s: float | None


@dataclass
class NodeStats:
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[FailureReason] = field(default_factory=list)
    latency: list[PipelineLatency] = field(default_factory=list)

    @property
    def served(self) -> int:
        return self.outcomes.get(AttemptOutcome.SUCCEEDED, 0)

    @property
    def failed(self) -> int:
        return self.outcomes.get(AttemptOutcome.FAILED, 0)

    @property
    def lost_to_capacity(self) -> int:
        """Requests the node refused with 503 "insufficient capacity" (go-livepeer#3157's count)."""
        return self.outcomes.get(AttemptOutcome.NO_CAPACITY, 0)

    @property
    def rejected(self) -> int:
        return self.outcomes.get(AttemptOutcome.REJECTED, 0)

    @property
    def canceled(self) -> int:
        return self.outcomes.get(AttemptOutcome.CANCELED, 0)

    @property
    def success_rate(self) -> float | None:
        """Successes over successes and failures: refusals for capacity, bad requests and cancels are not the
        node's failures."""
        judged = self.served + self.failed
        return self.served / judged if judged else None


def node_stats(orchestrator_ids: Sequence[int], since: datetime) -> NodeStats:
    """One node's (all its service URIs') attempts since `since`: three queries."""
    attempts = StageAttempt.objects.filter(orchestrator_id__in=orchestrator_ids, started_at__gte=since)
    stats = NodeStats()
    for outcome, count in attempts.values_list("outcome").annotate(count=Count("id")).order_by():
        stats.outcomes[outcome or "running"] = count
    failures = (
        attempts.filter(outcome=AttemptOutcome.FAILED)
        .values_list("status_code")
        .annotate(count=Count("id"), example=Max("message"))
        .order_by("-count", "status_code")
    )
    stats.failures = [FailureReason(code, count, example) for code, count, example in failures]
    stats.latency = latency_by_pipeline(attempts)
    return stats


def latency_by_pipeline(attempts: QuerySet[StageAttempt]) -> list[PipelineLatency]:
    recent = (
        attempts.filter(outcome=AttemptOutcome.SUCCEEDED, took_s__isnull=False)
        .annotate(recency=Window(RowNumber(), partition_by=[F("pipeline")], order_by=F("started_at").desc()))
        .filter(recency__lte=LATENCY_SAMPLES)
        .values_list("pipeline", "took_s")
    )
    by_pipeline: dict[str, list[float]] = defaultdict(list)
    for pipeline, took_s in recent:
        if took_s is not None:  # the filter above excludes it; the type cannot know
            by_pipeline[pipeline].append(took_s)
    result = []
    for pipeline, values in sorted(by_pipeline.items()):
        values.sort()
        result.append(PipelineLatency(pipeline, len(values), percentile(values, 0.5), percentile(values, 0.95)))
    return result


@dataclass(frozen=True)
class LatencyScore:
    """One node's latency score for one pipeline: mean seconds per unit·step of its successes, as
    selection ranks nodes (gateway/slots.py), shown per the size its fees read in (gateway/costs.py)."""

    pipeline: str
    seconds_per_unit_step: float

    @property
    def seconds(self) -> float:
        return self.seconds_per_unit_step * output_unit(self.pipeline).per

    @property
    def unit(self) -> str:
        """Reads as s/MP·step, s/MP, s per second of audio, s per 1,000 tokens or s per 1,000 characters."""
        shown = output_unit(self.pipeline)
        per = "s/MP" if shown == MEGAPIXEL else f"s per {shown.name}"
        return per + ("·step" if counts_steps(self.pipeline) else "")


@dataclass
class NetworkScore:
    """One orchestrator as the network overview shows it."""

    succeeded: int = 0
    failed: int = 0
    # Per pipeline, in name order: the latency score of recent successes.
    latency: list[LatencyScore] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        judged = self.succeeded + self.failed
        return self.succeeded / judged if judged else None


def network_scores(since: datetime) -> dict[int, NetworkScore]:
    """Success rate and latency score per orchestrator id since `since`: two queries."""
    scores: dict[int, NetworkScore] = defaultdict(NetworkScore)
    attempts = StageAttempt.objects.filter(started_at__gte=since, orchestrator__isnull=False)
    counts = (
        attempts.filter(outcome__in=[AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED])
        .values_list("orchestrator_id", "outcome")
        .annotate(count=Count("id"))
        .order_by()
    )
    for orchestrator_id, outcome, count in counts:
        if outcome == AttemptOutcome.SUCCEEDED:
            scores[orchestrator_id].succeeded = count
        else:
            scores[orchestrator_id].failed = count
    per_unit_step = ExpressionWrapper(
        F("took_s") * 1.0 / (F("units") * Greatest(F("steps"), 1)), output_field=FloatField()
    )
    latencies = (
        attempts.filter(outcome=AttemptOutcome.SUCCEEDED, took_s__isnull=False, units__gt=0)
        .values_list("orchestrator_id", "pipeline")
        .annotate(score=Avg(per_unit_step, output_field=FloatField()))
        .order_by("pipeline")
    )
    for orchestrator_id, pipeline, score in latencies:
        scores[orchestrator_id].latency.append(LatencyScore(pipeline, score))
    return dict(scores)


@dataclass
class JobsOverTime:
    days: list[date]
    # Pipeline → jobs served on each of `days`.
    series: dict[str, list[int]]

    @property
    def labels(self) -> list[str]:
        return [f"{day:%b} {day.day}" for day in self.days]

    @property
    def table(self) -> list[tuple[str, list[tuple[str, int]]]]:
        """(day label, [(pipeline, jobs), …]) per day: the chart's numbers as table rows."""
        return [
            (label, [(pipeline, counts[index]) for pipeline, counts in self.series.items()])
            for index, label in enumerate(self.labels)
        ]


def jobs_per_pipeline(since: datetime, until: datetime) -> JobsOverTime:
    """Distinct jobs with a successful stage of each pipeline, per UTC day: one query."""
    rows = (
        StageAttempt.objects.filter(outcome=AttemptOutcome.SUCCEEDED, started_at__gte=since, started_at__lt=until)
        .annotate(day=TruncDate("started_at"))
        .values_list("pipeline", "day")
        .annotate(jobs=Count("job_id", distinct=True))
        .order_by()
    )
    first, last = since.date(), until.date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    series: dict[str, list[int]] = {}
    for pipeline, day, jobs in rows:
        if day in index:
            series.setdefault(pipeline, [0] * len(days))[index[day]] = jobs
    return JobsOverTime(days=days, series=dict(sorted(series.items())))
