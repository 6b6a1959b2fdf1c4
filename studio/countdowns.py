"""How long until a round's windows open or close, in words; static/studio/countdown.js words it the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from studio.models import Round


@dataclass(frozen=True)
class Countdown:
    label: str  # "GIF window closes", "Voting opens", …
    ends_at: datetime
    left: str  # "in 1 day 3 hours"

    @property
    def ends_iso(self) -> str:
        return utc_iso(self.ends_at)


def utc_iso(moment: datetime) -> str:
    """The moment as ISO 8601 in UTC, to the second: what every browser's Date.parse reads."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


def time_left(seconds: float) -> str:
    """The two largest units left ("in 2 days 5 hours", "in 3 minutes 10 seconds"); "now" once it is past."""
    seconds = int(seconds)
    if seconds <= 0:
        return "now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "day"), (hours, "hour"), (minutes, "minute"), (secs, "second")]
    first = next(index for index, (number, _) in enumerate(units) if number)
    shown = [units[first]] + ([units[first + 1]] if first + 1 < len(units) and units[first + 1][0] else [])
    return "in " + " ".join(_count(number, unit) for number, unit in shown)


def round_countdowns(round: Round, now: datetime | None = None) -> list[Countdown]:
    """The next moment of each window still to come: when it opens, or while open, when it closes."""
    now = now or timezone.now()
    found = []
    for name, opens, closes in (
        ("GIF window", round.prompt_opens_at, round.prompt_closes_at),
        ("Voting", round.voting_opens_at, round.voting_closes_at),
    ):
        if now < opens:
            found.append(Countdown(f"{name} opens", opens, time_left((opens - now).total_seconds())))
        elif now < closes:
            found.append(Countdown(f"{name} closes", closes, time_left((closes - now).total_seconds())))
    return found
