"""Telling watchers that a job changed: one Channels group per job.

Consumers re-read the row, which is the truth, so a lost or late message never
shows a wrong state; the message's snapshot only tells which step it was sent for.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from livepeer_ai.gateway.models import Job

logger = logging.getLogger(__name__)


def job_group(job_id: object) -> str:
    return f"job_{job_id}"


def queue_group(capability: str) -> str:
    """The Channels group of a capability's waiting jobs' watchers (names must be short ASCII)."""
    return "queue_" + hashlib.sha1(capability.encode()).hexdigest()[:20]


def publish_job_update(job: Job) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        # The snapshot lets a watcher show each step even when the row has already moved on.
        snapshot = {
            "status": job.status,
            "stage_index": job.stage_index,
            "step": job.step,
            "total_steps": job.total_steps,
        }
        async_to_sync(layer.group_send)(
            job_group(job.id), {"type": "job.updated", "job_id": str(job.id), "snapshot": snapshot}
        )
    except Exception:
        # Progress display must never fail the job itself; the row still moves on.
        logger.warning("could not publish progress of job %s", job.id, exc_info=True)


def publish_job_ids(job_ids: list[Any]) -> None:
    """Tell watchers of these jobs that a stage began or ended, or the job finished (rare: read the rows)."""
    for job in Job.objects.filter(id__in=job_ids):
        publish_job_update(job)


async def publish_step(job_id: str, stage_index: int, step: int, total: int) -> None:
    """Every step reaches the watchers at once, from the engine's event loop (the row is written less often)."""
    layer = get_channel_layer()
    if layer is None:
        return
    snapshot = {"status": "running", "stage_index": stage_index, "step": step, "total_steps": total}
    try:
        await layer.group_send(job_group(job_id), {"type": "job.updated", "job_id": job_id, "snapshot": snapshot})
    except Exception:
        logger.warning("could not publish progress of job %s", job_id, exc_info=True)


async def publish_queue_moved(capability: str) -> None:
    """Watchers of jobs waiting for this capability re-read their place in the queue."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(queue_group(capability), {"type": "job.updated"})
    except Exception:
        logger.warning("could not publish a queue move for %s", capability, exc_info=True)
