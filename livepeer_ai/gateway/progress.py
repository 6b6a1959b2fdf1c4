"""Telling watchers that a job changed: one Channels group per job.

Consumers re-read the row, which is the truth, so a lost or late message never
shows a wrong state; the message's snapshot only tells which step it was sent for.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from livepeer_ai.gateway.models import Job

logger = logging.getLogger(__name__)


def job_group(job_id: object) -> str:
    return f"job_{job_id}"


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
