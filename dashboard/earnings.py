"""A node's earnings for the operator page, from the exact hourly rollup (`payments.EarningsHour`).

Two queries whatever the number of tickets: the rollup rows of the last 30
days (at most 720) and the face values of winning tickets still waiting to be
redeemed. Sums are Python ints, so every amount is exact to the wei.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from dashboard.charts import Point, bar_chart
from livepeer_ai.payments.amounts import readable
from livepeer_ai.payments.earnings import hour_of
from livepeer_ai.payments.models import EarningsHour, ReceivedTicket, RedemptionStatus

WINDOW = timedelta(days=30)


@dataclass
class Amounts:
    tickets: int = 0
    expected_value: int = 0
    winning_tickets: int = 0
    winning_face_value: int = 0
    redeemed_tickets: int = 0
    redeemed_value: int = 0

    def add(self, other: Amounts) -> None:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Bucket:
    start: datetime
    label: str
    amounts: Amounts = field(default_factory=Amounts)


@dataclass
class Earnings:
    # "24h", "7d", "30d" → totals over that period.
    totals: dict[str, Amounts]
    # The chosen period in buckets: hours for 24 h, days otherwise.
    buckets: list[Bucket]
    pending_tickets: int
    pending_value: int


def buckets_for(period: str, now: datetime) -> list[Bucket]:
    """The chart's buckets, oldest first, the last one holding `now`."""
    current_hour = hour_of(now)
    if period == "24h":
        starts = [current_hour - timedelta(hours=n) for n in range(23, -1, -1)]
        return [Bucket(start, f"{start:%H}:00") for start in starts]
    days = 7 if period == "7d" else 30
    today = current_hour.replace(hour=0)
    starts = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return [Bucket(start, f"{start:%b} {start.day}") for start in starts]


def node_earnings(address: str, period: str, now: datetime) -> Earnings:
    names = [f.name for f in fields(Amounts)]
    rows = EarningsHour.objects.filter(recipient=address, hour__gte=hour_of(now) - WINDOW).values_list("hour", *names)
    hourly = [(hour, Amounts(*(int(value) for value in values))) for hour, *values in rows]
    totals: dict[str, Amounts] = {}
    for name in ("24h", "7d", "30d"):
        first = buckets_for(name, now)[0].start
        total = Amounts()
        for hour, amounts in hourly:
            if hour >= first:
                total.add(amounts)
        totals[name] = total
    buckets = buckets_for(period, now)
    for hour, amounts in hourly:
        # The last bucket whose start is at or before this hour holds it.
        for bucket in reversed(buckets):
            if hour >= bucket.start:
                bucket.amounts.add(amounts)
                break
    pending = list(
        ReceivedTicket.objects.filter(
            recipient=address, status__in=[RedemptionStatus.PENDING, RedemptionStatus.SUBMITTED]
        )
        # No ordering: the model's default (newest first) would steer SQLite to the time index.
        .order_by()
        .values_list("face_value", flat=True)
    )
    return Earnings(totals=totals, buckets=buckets, pending_tickets=len(pending), pending_value=sum(map(int, pending)))


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    svg: str
    points: list[Point]


def earnings_charts(earnings: Earnings, period: str) -> list[Chart]:
    """Expected value received, winning tickets and ETH redeemed over the period's buckets."""
    span = {"24h": "per hour over the last 24 hours", "7d": "per day over 7 days", "30d": "per day over 30 days"}[
        period
    ]
    measures: list[tuple[str, str, Callable[[Amounts], int], Callable[[int], str]]] = [
        ("chart-ev", "Expected value received", lambda a: a.expected_value, readable),
        ("chart-winning", "Winning tickets", lambda a: a.winning_tickets, str),
        ("chart-redeemed", "ETH redeemed", lambda a: a.redeemed_value, readable),
    ]
    charts = []
    for chart_id, title, measure, text in measures:
        points = [Point(b.label, measure(b.amounts), text(measure(b.amounts))) for b in earnings.buckets]
        description = f"{title} {span}; total {text(sum(p.value for p in points))}."
        charts.append(Chart(chart_id, title, bar_chart(chart_id, title, description, points), points))
    return charts
