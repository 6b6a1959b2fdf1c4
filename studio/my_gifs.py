"""A member's own GIFs, newest first, narrowed to a round and a status."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from livepeer_ai.gateway.models import JobStatus
from studio.models import Generation, Round

# Status filter → (label, which of the member's GIFs it keeps).
STATUSES: dict[str, tuple[str, Q]] = {
    "finished": ("Finished", Q(job__status=JobStatus.SUCCEEDED)),
    "entered": ("Entered in a round", Q(job__entry__isnull=False)),
    "in-progress": ("Being made", Q(job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING])),
    "failed": ("Failed or canceled", Q(job__status__in=[JobStatus.FAILED, JobStatus.CANCELED])),
}
NO_ROUND = "none"


def member_rounds(member: Any) -> list[Round]:
    """The rounds the member made GIFs in, newest first: the round filter's choices."""
    return list(Round.objects.filter(generations__member=member).distinct().order_by("-prompt_opens_at", "-pk"))


def member_gifs(member: Any, round_slug: str = "", status: str = "") -> QuerySet[Generation]:
    """The member's GIFs (with their job and entry), in one round (or none: NO_ROUND), of one status."""
    gifs = Generation.objects.filter(member=member).select_related("job", "round", "job__entry")
    if round_slug == NO_ROUND:
        gifs = gifs.filter(round__isnull=True)
    elif round_slug:
        gifs = gifs.filter(round__slug=round_slug)
    if status in STATUSES:
        gifs = gifs.filter(STATUSES[status][1])
    return gifs.order_by("-created_at", "-pk")
