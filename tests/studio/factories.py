"""Plain builders for studio rows: rounds open now by default, finished GIF jobs, entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.workflow import create_gif_job
from studio.models import Entry, Generation, Round, Safety

_counter = iter(range(1, 10**6))


def make_round(**overrides: Any) -> Round:
    """A round taking GIFs and votes now, unless the windows are overridden."""
    now = timezone.now()
    number = next(_counter)
    fields = {
        "slug": f"round-{number}",
        "title": f"Round {number}",
        "theme": "robots in the rain",
        "prompt_opens_at": now - timedelta(hours=1),
        "prompt_closes_at": now + timedelta(days=1),
        "voting_opens_at": now - timedelta(hours=1),
        "voting_closes_at": now + timedelta(days=2),
        **overrides,
    }
    return Round.objects.create(**fields)


def closed_round(**overrides: Any) -> Round:
    now = timezone.now()
    return make_round(
        prompt_opens_at=now - timedelta(days=3),
        prompt_closes_at=now - timedelta(days=2),
        voting_opens_at=now - timedelta(days=3),
        voting_closes_at=now - timedelta(days=1),
        **overrides,
    )


def finished_outputs(job: Job, checked: bool = False, nsfw: bool = False) -> dict[str, Any]:
    base = f"jobs/{job.id}"
    flags = {"nsfw": nsfw, "nsfw_checked": checked}
    return {
        "text-to-image": {"image": f"{base}/text-to-image/image.png", "seed": 7, **flags},
        "image-to-video": {
            "gif": f"{base}/image-to-video/video.gif",
            "mp4": f"{base}/image-to-video/video.mp4",
            "frames": [],
            "fps": 6,
            **flags,
        },
    }


def make_generation(
    member: Any,
    round: Round | None = None,
    status: str = JobStatus.SUCCEEDED,
    prompt: str = "a robot in the rain",
    checked: bool = False,
    nsfw: bool = False,
    **choices: Any,
) -> Generation:
    job = create_gif_job(prompt, owner=member)
    job.status = status
    job.stage_index = len(job.stages) - 1
    if status == JobStatus.SUCCEEDED:
        job.outputs = finished_outputs(job, checked=checked, nsfw=nsfw)
        job.finished_at = timezone.now()
    job.save()
    request = {"prompt": prompt, "negative_prompt": "", "style": "", "seed": None, **choices}
    return Generation.objects.create(job=job, member=member, round=round, prompt=prompt, choices=request)


def make_entry(
    author: Any,
    round: Round,
    safety: str = Safety.CLEAN,
    votes: int = 0,
    prompt: str = "a robot in the rain",
    **fields: Any,
) -> Entry:
    generation = make_generation(author, round, prompt=prompt)
    return Entry.objects.create(
        round=round, job=generation.job, author=author, safety=safety, vote_count=votes, **fields
    )


def make_queued_job(member: Any, prompt: str = "a robot in the rain") -> Job:
    """A studio GIF job just submitted: queued on its first stage, with its Generation, as the form leaves it."""
    job = create_gif_job(prompt, owner=member)
    Generation.objects.create(job=job, member=member, prompt=prompt, choices={"prompt": prompt, "style": ""})
    return job
