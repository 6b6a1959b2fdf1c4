from __future__ import annotations

from django import template
from django.utils import timezone

from livepeer_ai.gateway.models import Job
from studio import countdowns
from studio.countdowns import Countdown
from studio.models import Round

register = template.Library()


@register.filter
def stage_output(job: Job, key: str) -> str:
    """`job|stage_output:"image-to-video:gif"` → the media URL of that output."""
    stage, _, kind = key.partition(":")
    return job.output_url(stage, kind)


@register.filter
def final_output(job: Job, kind: str) -> str:
    """`job|final_output:"gif"` → the finished result's media URL."""
    return job.final_output_url(kind)


@register.simple_tag
def round_countdowns(round: Round) -> list[Countdown]:
    """`{% round_countdowns round as countdowns %}`: the round's windows still to open or close."""
    return countdowns.round_countdowns(round)


@register.simple_tag
def utc_now_iso() -> str:
    """The server's clock for countdown.js, which counts from it rather than from the phone's."""
    return countdowns.utc_iso(timezone.now())
