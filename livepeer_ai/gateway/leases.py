"""Who drives a job, and noticing when that driver died.

A driver claims the job row with a short lease and renews it from a heartbeat
thread while it works; the thread dies with the worker, so a lease that runs out
on an unfinished job means nobody is driving it. The periodic sweep re-drives
those. The claim is one conditional UPDATE, so two drivers never run one job.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from types import TracebackType

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from livepeer_ai.gateway.models import Job, JobStatus

logger = logging.getLogger(__name__)


def claim(job_id: str) -> bool:
    now = timezone.now()
    return bool(
        Job.objects.filter(id=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=settings.JOB_LEASE_S))
    )


class Lease:
    """Held while the `with` block runs; renewed every third of its length."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{job_id}", daemon=True)

    def _renew(self) -> None:
        while not self._stop.wait(settings.JOB_LEASE_S / 3):
            try:
                Job.objects.filter(id=self.job_id).update(
                    lease_until=timezone.now() + timedelta(seconds=settings.JOB_LEASE_S)
                )
            except Exception:  # noqa: BLE001 - a missed renewal only risks an early re-drive
                logger.warning("could not renew the lease of job %s", self.job_id, exc_info=True)
        close_old_connections()

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        Job.objects.filter(id=self.job_id).update(lease_until=None)


def stalled_job_ids() -> list[str]:
    """Unfinished jobs nobody drives: lease expired, or queued and never picked up."""
    now = timezone.now()
    never_started = Q(
        status=JobStatus.QUEUED,
        lease_until__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.JOB_PICKUP_GRACE_S),
    )
    lease_expired = Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING], lease_until__lt=now)
    return [str(pk) for pk in Job.objects.filter(never_started | lease_expired).values_list("id", flat=True)]
