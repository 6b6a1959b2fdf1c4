"""Telling watchers that a job changed: one Channels group per job.

Consumers re-read the row, which is the truth, so a lost or late message never
shows a wrong state; the message's snapshot only tells which step it was sent for.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from livepeer_ai.gateway.models import Job

logger = logging.getLogger(__name__)


class LayerOutage:
    """One warning line per outage of the channel layer (Redis down), not one per step, and one when it is back.

    Every publish is still tried: the first to get through ends the outage.
    """

    def __init__(self, kind: str = "progress", log: logging.Logger = logger) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.kind = kind
        self.log = log

    def failed(self, what: str, exc: Exception) -> None:
        with self._lock:
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        self.log.warning(
            "could not publish %s (%s: %s); %s paused until the channel layer answers again",
            what,
            type(exc).__name__,
            exc,
            self.kind,
        )

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            self.log.warning(
                "publishing %s again, after %.0f s without the channel layer", self.kind, time.monotonic() - since
            )


outage = LayerOutage()


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
    except Exception as exc:
        # Progress display must never fail the job itself; the row still moves on.
        outage.failed(f"progress of job {job.id}", exc)
    else:
        outage.succeeded()


def publish_job_ids(job_ids: list[Any]) -> None:
    """Tell watchers of these jobs that a stage began or ended, or the job finished (rare: read the rows)."""
    for job in Job.objects.filter(id__in=job_ids):
        publish_job_update(job)


async def publish_step(job_id: str, stage_index: int, step: int, total: int, preview: str | None = None) -> None:
    """Every step reaches the watchers at once, from the engine's event loop (the row is written less often).

    `preview`: the runner's picture of the stage so far (pipelines/previews.py), passed to watchers
    only, never stored."""
    layer = get_channel_layer()
    if layer is None:
        return
    snapshot: dict[str, Any] = {"status": "running", "stage_index": stage_index, "step": step, "total_steps": total}
    if preview is not None:
        snapshot["preview"] = preview
    try:
        await layer.group_send(job_group(job_id), {"type": "job.updated", "job_id": job_id, "snapshot": snapshot})
    except Exception as exc:
        outage.failed(f"progress of job {job_id}", exc)
    else:
        outage.succeeded()


async def publish_queue_moved(capability: str) -> None:
    """Watchers of jobs waiting for this capability re-read their place in the queue."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(queue_group(capability), {"type": "job.updated"})
    except Exception as exc:
        outage.failed(f"a queue move for {capability}", exc)
    else:
        outage.succeeded()
