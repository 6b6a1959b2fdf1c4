"""Which round is on, and closing rounds: winners are the most-voted public entries, ties to the earlier."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from studio.models import Round

logger = logging.getLogger(__name__)


def current_round(now: datetime | None = None) -> Round | None:
    """The round taking GIFs now; when windows overlap, the one closing first."""
    return Round.objects.taking_prompts(now).order_by("prompt_closes_at", "pk").first()


def close_round(round_id: int, now: datetime | None = None) -> bool:
    """Record the winners of a round whose voting is over; False if it is not over or already closed.

    The row lock makes two beat runs (or a beat run and an admin) close it once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        found = Round.objects.select_for_update().filter(pk=round_id, closed_at__isnull=True).first()
        if found is None or not found.is_over(now):
            return False
        found.entries.update(place=None)
        ranked = found.entries.public().filter(vote_count__gt=0).ranked()[: found.winners_count]
        for place, entry in enumerate(ranked, start=1):
            entry.place = place
            entry.save(update_fields=["place"])
        found.closed_at = now
        found.save(update_fields=["closed_at"])
    logger.info("closed round %s", found.slug)
    return True


def close_due_rounds(now: datetime | None = None) -> list[str]:
    """Close every round whose voting window has ended; the slugs of those closed now."""
    now = now or timezone.now()
    due = Round.objects.over(now).filter(closed_at__isnull=True).values_list("pk", "slug")
    return [slug for pk, slug in due if close_round(pk, now)]
