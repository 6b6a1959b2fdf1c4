"""Telling watchers that a job changed: one Channels group per job.

The message carries only the id; consumers re-read the row, which is the truth,
so a lost or late message never shows a wrong state.
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
        async_to_sync(layer.group_send)(job_group(job.id), {"type": "job.updated", "job_id": str(job.id)})
    except Exception:
        # Progress display must never fail the job itself; the row still moves on.
        logger.warning("could not publish progress of job %s", job.id, exc_info=True)
