"""What the studio does when the gateway finishes jobs (`queue.jobs_finished`, connected in apps.py).

The gateway sends it inside its finishing transaction: the work here runs in a savepoint of
its own, and what goes to other processes waits for the commit.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from livepeer_ai.gateway.models import Job, JobStatus
from studio import alt_text, progress, tasks
from studio.models import Generation


def on_jobs_finished(sender: Any, job_ids: list[Any], status: str, **kwargs: Any) -> None:
    """Sent inside the gateway's finishing transaction: work in a savepoint, enqueue after the commit."""
    with transaction.atomic():
        if status == JobStatus.SUCCEEDED:
            # Their durations count from now: the job pages of the same shapes measure again.
            shapes = {
                progress.phases_key(job) for job in Job.objects.filter(id__in=job_ids).only("stages", "parameters")
            }
            transaction.on_commit(partial(progress.forget_phases, sorted(shapes)), robust=True)
            alt_text.store_caption(job_ids)
            gifs = Generation.objects.filter(job_id__in=job_ids, caption_job__isnull=True)
            for generation_id in gifs.values_list("id", flat=True):
                # robust: a broker that is down costs the GIF its caption, never the engine its stage.
                transaction.on_commit(partial(tasks.caption_gif.delay, generation_id), robust=True)
