"""Turning a finished GIF into a round entry, and what the safety checker said about it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from livepeer_ai.gateway.models import Job, JobStatus
from studio.models import Entry, Safety
from studio.refusals import Refused

# Frame interpolation only blends neighbouring frames the earlier stages made, so
# it has nothing new to check; every other stage's outputs must have been checked.
BLENDS_ONLY = {"frame-interpolation"}


def job_safety(job: Job) -> str:
    """Flagged if any stage's output was flagged NSFW; clean only if every generating stage was checked."""
    outputs = [job.outputs.get(stage, {}) for stage in job.stages]
    if any(output.get("nsfw") for output in outputs):
        return Safety.FLAGGED
    checked = [job.outputs.get(stage, {}).get("nsfw_checked") for stage in job.stages if stage not in BLENDS_ONLY]
    return Safety.CLEAN if checked and all(checked) else Safety.UNCHECKED


def enter_round(job: Job, member: Any, now: datetime | None = None) -> Entry:
    """The job's entry in the round it was made in; raises Refused when the rules say no."""
    now = now or timezone.now()
    generation = getattr(job, "generation", None)
    if generation is None or generation.member_id != member.pk:
        raise Refused("Only the member who made this GIF can enter it.", status=403)
    if job.status != JobStatus.SUCCEEDED:
        raise Refused("Only a finished GIF can be entered.", status=409)
    round = generation.round
    if round is None:
        raise Refused("This GIF was made outside any round, so there is no round to enter it into.", status=409)
    if not round.takes_prompts(now):
        raise Refused(f"“{round.title}” is not taking entries any more.", status=409)
    if Entry.objects.filter(job=job).exists():
        raise Refused("This GIF is already entered.", status=409)
    safety = job_safety(job)
    try:
        with transaction.atomic():
            # One member's entries queue on their own row (as their creations do), so two enters at once
            # can't both take the round's last place: the count is read under the lock it is written under.
            get_user_model().objects.select_for_update().filter(pk=member.pk).first()
            if round.entries.filter(author=member).count() >= round.entries_per_member:
                raise Refused(f"You have entered the {round.entries_per_member} GIFs this round allows.", status=403)
            return Entry.objects.create(round=round, job=job, author=member, safety=safety, created_at=now)
    except IntegrityError:
        # A double click: the other request entered it a moment ago.
        raise Refused("This GIF is already entered.", status=409) from None
