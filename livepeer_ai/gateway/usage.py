"""What each API key used and spent: jobs, billed units and fees, by UTC day and pipeline; its daily limit.

A job counts on the UTC day it was submitted, under its pipeline. Its fee is what the
gateway paid the nodes for it: the fee it booked for each completed stage
(`StageAttempt.fee_wei`; only completed work is charged, docs/protocol.md §3.3). A failed
or refused attempt costs nothing, and neither does work off chain or on the fallback
provider: no tickets pay for it. Its USD value is at the ETH/USD rate the job recorded
when it was submitted, so history does not move with today's price.

The daily spend limit (`ApiKey.daily_spend_limit_wei`) counts the day's finished jobs at
what they cost and its unfinished ones at the most they may cost (`fee_estimate_wei`,
kept when they were accepted), so a burst of submissions cannot overrun it; it resets at
UTC midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from livepeer_ai.gateway import slots
from livepeer_ai.gateway.models import FINISHED, ApiKey, AttemptOutcome, Job, Orchestrator, StageAttempt
from livepeer_ai.payments.amounts import exact_eth, usd_value
from livepeer_ai.protocol.units import fee_wei

# The longest period one usage answer covers: a year and a day, leap years included.
MAX_DAYS = 367
DEFAULT_DAYS = 30
USD_QUANTUM = Decimal("0.000001")
# Where an accepted API job keeps the most it may cost (gateway/workflow.create_api_job).
ESTIMATE = "fee_estimate_wei"


DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class NotADay(ValueError):
    def __init__(self, name: str, raw: str) -> None:
        self.name = name
        super().__init__(f"{name} must be a day as YYYY-MM-DD, got {raw[:20]!r}.")


def day_of(name: str, raw: str | None) -> date | None:
    """A day written YYYY-MM-DD (None when not given); anything else raises NotADay."""
    if raw is None or raw.strip() == "":
        return None
    if not re.fullmatch(DAY_PATTERN, raw):
        raise NotADay(name, raw)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise NotADay(name, raw) from None


class BadPeriod(ValueError):
    """A usage period that is not one: it ends before it starts, or is longer than MAX_DAYS."""


def paid_wei(attempt: StageAttempt) -> int:
    """What the gateway paid for one attempt: the fee it booked when the stage completed and was
    charged on chain (gateway/dispatch.py); 0 for any other. The one place a fee is read."""
    if attempt.outcome != AttemptOutcome.SUCCEEDED:
        return 0
    return attempt.fee_wei or 0


@dataclass
class UsageRow:
    """One UTC day and pipeline of one key's jobs (or, with neither, a total)."""

    day: date | None = None
    pipeline: str = ""
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    units: int = 0
    fees_wei: int = 0
    # USD of the fees at each job's own rate; fees of jobs that recorded no rate are kept apart.
    fees_usd: Decimal = field(default_factory=Decimal)
    unpriced_fees_wei: int = 0

    def add(self, other: UsageRow) -> None:
        for name in ("jobs", "succeeded", "failed", "canceled", "units", "fees_wei", "fees_usd", "unpriced_fees_wei"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_json(self) -> dict[str, object]:
        """Wei as decimal strings (they pass 2**53), ETH exact, USD to the millionth."""
        row: dict[str, object] = {"date": self.day.isoformat()} if self.day else {}
        if self.pipeline:
            row["pipeline"] = self.pipeline
        row.update(
            jobs=self.jobs,
            succeeded=self.succeeded,
            failed=self.failed,
            canceled=self.canceled,
            units=self.units,
            fees_wei=str(self.fees_wei),
            fees_eth=exact_eth(self.fees_wei),
            # None when no fee of these had a rate to be valued at.
            fees_usd=None if 0 < self.fees_wei == self.unpriced_fees_wei else str(self.fees_usd.quantize(USD_QUANTUM)),
            unpriced_fees_wei=str(self.unpriced_fees_wei),
        )
        return row


@dataclass
class Usage:
    start: date
    end: date  # inclusive
    rows: list[UsageRow]
    total: UsageRow


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The days asked for, both inclusive: by default the last DEFAULT_DAYS up to today (UTC)."""
    end = end or (start + timedelta(days=DEFAULT_DAYS - 1) if start else today())
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadPeriod(f"start ({start}) is after end ({end}).")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadPeriod(f"A usage period is at most {MAX_DAYS} days; {start} to {end} is {(end - start).days + 1}.")
    return start, end


def job_fees(jobs: QuerySet[Job]) -> dict[str, tuple[int, int]]:
    """Each job's (fees paid, units billed) over its completed stages, by job id.

    The jobs are named by a subquery, never one bound value per job: a busy key's period holds
    more jobs than a statement may bind (SQLite 32,766 values, PostgreSQL 65,535)."""
    attempts = StageAttempt.objects.filter(
        job_id__in=jobs.order_by().values("id"), outcome=AttemptOutcome.SUCCEEDED
    ).only("job_id", "units", "outcome", "fee_wei")
    totals: dict[str, tuple[int, int]] = {}
    for attempt in attempts:
        fee, units = totals.get(str(attempt.job_id), (0, 0))
        totals[str(attempt.job_id)] = (fee + paid_wei(attempt), units + attempt.units)
    return totals


def usage_of(api_key: ApiKey, start: date, end: date) -> Usage:
    """The key's jobs submitted from `start` to `end` (UTC days, inclusive), by day and pipeline."""
    period_jobs = Job.objects.filter(
        api_key=api_key, created_at__gte=midnight(start), created_at__lt=midnight(end + timedelta(days=1))
    )
    jobs = list(period_jobs.only("id", "created_at", "stages", "status", "usd_per_eth_e8"))
    fees = job_fees(period_jobs)
    rows: dict[tuple[date, str], UsageRow] = {}
    for job in jobs:
        day, pipeline = job.created_at.astimezone(UTC).date(), job.stages[0] if job.stages else ""
        row = rows.setdefault((day, pipeline), UsageRow(day, pipeline))
        fee, units = fees.get(str(job.id), (0, 0))
        row.jobs += 1
        row.succeeded += job.status == "succeeded"
        row.failed += job.status == "failed"
        row.canceled += job.status == "canceled"
        row.units += units
        row.fees_wei += fee
        if job.usd_per_eth is None:
            row.unpriced_fees_wei += fee
        else:
            row.fees_usd += usd_value(fee, job.usd_per_eth)
    total = UsageRow()
    ordered = [rows[key] for key in sorted(rows)]
    for row in ordered:
        total.add(row)
    return Usage(start, end, ordered, total)


@dataclass(frozen=True)
class SpendToday:
    limit_wei: int
    spent_wei: int
    resets_at: datetime

    @property
    def left_wei(self) -> int:
        return max(0, self.limit_wei - self.spent_wei)

    def as_json(self) -> dict[str, str]:
        return {
            "daily_limit_wei": str(self.limit_wei),
            "spent_today_wei": str(self.spent_wei),
            "resets_at": iso_utc(self.resets_at),
        }


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def spent_today(api_key: ApiKey) -> int:
    """Today's (UTC) fees: finished jobs at what they cost, unfinished ones at the most they may."""
    todays = Job.objects.filter(api_key=api_key, created_at__gte=midnight(today()))
    jobs = list(todays.only("id", "status", "parameters"))
    fees = job_fees(todays)
    spent = 0
    for job in jobs:
        paid = fees.get(str(job.id), (0, 0))[0]
        spent += paid if job.status in FINISHED else max(paid, int(job.parameters.get(ESTIMATE, 0)))
    return spent


def spend_today(api_key: ApiKey) -> SpendToday | None:
    """The key's limit and today's spend against it; None for a key without a limit."""
    if api_key.daily_spend_limit_wei is None:
        return None
    return SpendToday(api_key.daily_spend_limit_wei, spent_today(api_key), midnight(today() + timedelta(days=1)))


def most_it_may_cost(pipeline: str, model_id: str, units: int) -> int:
    """The fee of `units` at the dearest offer a request may be sent to (fresh, reachable, under the
    price cap): which node runs it is chosen later, by speed as much as by price. Off chain, 0:
    nothing is paid."""
    if not settings.WEB3_PROVIDER_URI:
        return 0
    cap = slots.price_cap()
    fresh = Orchestrator.objects.filter(reachable=True, info_fetched_at__gte=timezone.now() - slots.known_window())
    most = 0
    for node in fresh:
        offered = node.capability(pipeline, model_id)
        if offered is None:
            continue
        price, pixels = int(offered.get("price_per_unit", 0)), int(offered.get("pixels_per_unit", 1)) or 1
        if cap is None or cap.allows(price, pixels):
            most = max(most, fee_wei(units, price, pixels))
    return most


class SpendLimitReached(Exception):
    def __init__(self, spend: SpendToday, request_wei: int) -> None:
        self.spend, self.request_wei = spend, request_wei
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return (
            f"This API key may spend {self.spend.limit_wei} wei a day; {self.spend.spent_wei} wei are spent or "
            f"committed today (UTC) and this request may cost up to {self.request_wei} wei. "
            f"The limit resets at {iso_utc(self.spend.resets_at)}."
        )

    def detail(self) -> dict[str, str]:
        return {"msg": self.message, **self.spend.as_json(), "request_wei": str(self.request_wei)}


def within_limit(api_key: ApiKey, request_wei: int) -> None:
    """Raise SpendLimitReached when the request would take today's spend past the key's limit.

    Called inside the transaction that creates the job, holding the key's row: two
    submissions of one key are counted one after the other, never both against the
    same spend.
    """
    if api_key.daily_spend_limit_wei is None:
        return  # as read when the key authenticated this request: no row to hold
    # The limit as it is now (an admin may have changed it since).
    locked = ApiKey.objects.select_for_update().only("id", "daily_spend_limit_wei").get(pk=api_key.pk)
    spend = spend_today(locked)
    if spend is not None and spend.spent_wei + request_wei > spend.limit_wei:
        raise SpendLimitReached(spend, request_wei)
