"""Votes: one per member per entry, never on your own, only in the round's voting window.

A vote may be taken back while the window is open, never after: the winners are
read from the counts as the window closes.

The vote row and the entry's count change in one transaction; the unique
constraint decides between two concurrent clicks, and the loser hears
"already voted" instead of an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from studio.models import Entry, Vote
from studio.refusals import Refused


def cast_vote(entry: Entry, voter: Any, now: datetime | None = None) -> Entry:
    """Count `voter`'s vote for `entry`; the entry comes back with its new count."""
    now = now or timezone.now()
    if entry.author_id == voter.pk:
        raise Refused("You can't vote for your own entry.", status=403)
    if not entry.is_public:
        raise Refused("This entry is not open for votes.", status=403)
    round = entry.round
    if not round.takes_votes(now):
        when = "hasn't opened yet" if now < round.voting_opens_at else "has closed"
        raise Refused(f"Voting for “{round.title}” {when}.", status=409)
    try:
        with transaction.atomic():
            Vote.objects.create(entry=entry, voter=voter, created_at=now)
            Entry.objects.filter(pk=entry.pk).update(vote_count=F("vote_count") + 1)
    except IntegrityError:
        raise Refused("You already voted for this entry.", status=409) from None
    entry.refresh_from_db(fields=["vote_count"])
    return entry


def take_back_vote(entry: Entry, voter: Any, now: datetime | None = None) -> Entry:
    """Remove `voter`'s vote for `entry`; the entry comes back with its new count."""
    now = now or timezone.now()
    round = entry.round
    if not round.takes_votes(now):
        raise Refused(f"Voting for “{round.title}” has closed, so votes stay as they are.", status=409)
    with transaction.atomic():
        removed, _ = Vote.objects.filter(entry=entry, voter=voter).delete()
        if not removed:
            raise Refused("You have no vote on this entry to take back.", status=409)
        Entry.objects.filter(pk=entry.pk).update(vote_count=F("vote_count") - 1)
    entry.refresh_from_db(fields=["vote_count"])
    return entry


def voted_entry_ids(entries: Any, voter: Any) -> set[int]:
    """Which of `entries` `voter` voted for, in one query (a gallery page's cards)."""
    if not voter.is_authenticated:
        return set()
    return set(Vote.objects.filter(voter=voter, entry__in=entries).values_list("entry_id", flat=True))


def has_voted(entry: Entry, voter: Any) -> bool:
    return voter.is_authenticated and Vote.objects.filter(entry=entry, voter=voter).exists()
