from __future__ import annotations

from django import template

from livepeer_ai.gateway.models import Job

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
