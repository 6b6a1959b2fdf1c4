"""The gateway queue, kept as data: every unfinished job has one `QueuedStage` row.

- A job is queued in the same transaction that creates it, so a client that got
  a request id has a job in the queue, and a job that exists is queued.
- Waiting rows cost nothing. The engine (gateway/engine.py) dispatches a
  capability when it is told something changed there (a job queued, a slot
  freed, a node refreshed) and once a second anyway, so a lost wake-up costs at
  most that second.
- Order: first by the API key's priority, then in turns between API keys
  (gateway/fairness.py), then first come, first served, per (pipeline, model)
  over the whole network. Capabilities never wait on each other.
- Dispatching takes the capability's `QueueLock` row in a transaction, so two
  workers never both fill one slot: the slot ledger (gateway/slots.py) is read
  and written under that lock.
- A position and an ETA are read from the rows at any moment, at any queue length.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.dispatch import Signal
from django.utils import timezone

from livepeer_ai.gateway import fairness, slots, webhooks
from livepeer_ai.gateway.models import (
    AttemptOutcome,
    EngineWorker,
    Job,
    JobStatus,
    Orchestrator,
    QueuedStage,
    QueueLock,
    QueueState,
    StageAttempt,
)
from livepeer_ai.gateway.progress import publish_job_update
from livepeer_ai.gateway.selection import eligible, fill_slots
from livepeer_ai.gateway.wake import notify
from livepeer_ai.registry.curation import ModelNotRoutable, routable_model

logger = logging.getLogger(__name__)

# Sent by `finish_jobs` inside its transaction, with `job_ids` (those it finished) and their `status`:
# how an app above the gateway (the studio) follows its jobs without the gateway knowing it. A
# receiver's error is logged and never undoes the finish: receivers work in their own savepoint.
jobs_finished = Signal()

# Successful attempts the ETA's mean service time is taken over.
ETA_SAMPLE = 20


@dataclass(frozen=True)
class QueuePlace:
    capability: str
    position: int
    eta_s: float | None


@dataclass(frozen=True)
class Assignment:
    """A stage the engine now runs: its row, job, attempt and where to send it (None: the fallback provider)."""

    entry_id: int
    job_id: str
    attempt_id: int
    pipeline: str
    model_id: str
    orchestrator_id: int | None
    service_uri: str

    @property
    def capability(self) -> str:
        return f"{self.pipeline} {self.model_id}"


def capability_key(pipeline: str, model_id: str) -> str:
    return f"{pipeline} {model_id}"


# -- joining and leaving ------------------------------------------------------


def enqueue(job: Job, stage_index: int = 0, priority: int | None = None) -> QueuedStage:
    """Queue the job's stage `stage_index` (its first piece); call inside the transaction that made the job."""
    pipeline, model_id = stage_capability(job, stage_index)
    if priority is None:
        priority = job.api_key.priority if job.api_key_id and job.api_key else 0
    QueuedStage.objects.filter(job=job).delete()
    entry = QueuedStage.objects.create(
        job=job,
        stage_index=stage_index,
        pipeline=pipeline,
        model_id=model_id,
        priority=priority,
        api_key_id=job.api_key_id,
    )
    QueueLock.objects.get_or_create(capability=entry.capability)
    transaction.on_commit(lambda: notify(f"dispatch {entry.capability}"))
    return entry


def ensure_queued(job: Job) -> None:
    """Queue an unfinished job again at the stage its row is on, unless a stage of it is running."""
    if job.is_finished or QueuedStage.objects.filter(job=job, state=QueueState.RUNNING).exists():
        return
    with transaction.atomic():
        enqueue(job, min(job.stage_index, len(job.stages) - 1))


def stage_capability(job: Job, stage_index: int) -> tuple[str, str]:
    """(pipeline, model id) a stage runs on."""
    stage = job.stages[stage_index]
    return stage, stage_model(job, stage)


def stage_model(job: Job, stage: str) -> str:
    """The model `stage` runs: the one the job names (an API request's `model_id`, a GIF job's
    `models` for that stage), else the stage's default model."""
    if job.parameters.get("api"):
        named = job.parameters.get("request", {}).get("model_id")
    else:
        named = job.parameters.get("models", {}).get(stage)
    return str(named or "") or settings.DEFAULT_MODELS.get(stage, "")


def cancel_job(job: Job) -> bool:
    """Cancel unless finished; a waiting stage leaves the queue, a running one is stopped by its engine."""
    with transaction.atomic():
        # Row, then job: the order every writer takes them in, so two never wait on each other.
        list(QueuedStage.objects.select_for_update().filter(job_id=job.id))
        updated = Job.objects.filter(id=job.id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
            status=JobStatus.CANCELED, finished_at=timezone.now(), updated_at=timezone.now()
        )
        if updated:
            QueuedStage.objects.filter(job_id=job.id, state=QueueState.WAITING).delete()
            webhooks.announce([job.id], "completed")
    job.refresh_from_db()
    job.__dict__.pop("queue_place", None)
    if updated:
        notify(f"cancel {job.id}")
        publish_job_update(job)
    return bool(updated)


# -- where a job stands -----------------------------------------------------


def place_of(job: Job) -> QueuePlace | None:
    entry = QueuedStage.objects.filter(job_id=job.id, state=QueueState.WAITING).first()
    if entry is None or job.is_finished:
        return None
    waiting = QueuedStage.objects.filter(
        pipeline=entry.pipeline,
        model_id=entry.model_id,
        state=QueueState.WAITING,
        job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
    )
    # The order the engine serves in (priority, then turns between API keys, then arrival).
    position = fairness.position_of(entry, waiting)
    return QueuePlace(entry.capability, position, expected_wait_s(entry.pipeline, entry.model_id, position))


def expected_wait_s(pipeline: str, model_id: str, position: int) -> float | None:
    """Rounds of the capability's whole capacity ahead, times its recent mean service time."""
    recent = list(
        StageAttempt.objects.filter(pipeline=pipeline, model_id=model_id, outcome=AttemptOutcome.SUCCEEDED)
        .order_by("-started_at")
        .values_list("took_s", flat=True)[:ETA_SAMPLE]
    )
    times = [took for took in recent if took is not None]
    if not times:
        return None
    capacity = sum(c.capacity for c in slots.candidates(pipeline, model_id)[0] if not c.suspended)
    return sum(times) / len(times) * math.ceil(position / max(capacity, 1))


def waiting_counts() -> dict[tuple[str, str], int]:
    rows = (
        QueuedStage.objects.filter(state=QueueState.WAITING, job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .values("pipeline", "model_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(row["pipeline"], row["model_id"]): row["n"] for row in rows}


# -- dispatching -----------------------------------------------------------


def waiting_capabilities() -> list[tuple[str, str]]:
    return list(
        QueuedStage.objects.filter(state=QueueState.WAITING).values_list("pipeline", "model_id").distinct().order_by()
    )


def dispatch(
    pipeline: str,
    model_id: str,
    worker: str,
    rng: random.Random | None = None,
    limit: int = 1000,
    known: set[str] | None = None,
    held: Collection[str] = (),
) -> list[Assignment]:
    """Give free slots to the first waiting stages of one capability; the caller runs what it gets back.

    `held`: service URIs the caller sends nothing to now (its chain outages: network.ChainOutages).
    """
    key = capability_key(pipeline, model_id)
    now = timezone.now()
    with transaction.atomic():
        lock_capability(key, now)
        waiting = QueuedStage.objects.filter(pipeline=pipeline, model_id=model_id, state=QueueState.WAITING)
        if not waiting.exists():
            return []
        try:
            # Disabled while the jobs waited: they fail here, before anything is sent or paid.
            routable_model(pipeline, model_id)
        except ModelNotRoutable as exc:
            fail_waiting(waiting, exc.code, exc.message)
            return []
        candidates, nodes = slots.candidates(pipeline, model_id, known, held)
        cap = slots.price_cap()
        free = sum(c.free for c in eligible(candidates, cap, set()))
        if not free:
            if not candidates and slots.network_known() and not slots.may_be_sold(pipeline, model_id):
                return serve_unsold(pipeline, model_id, waiting, worker, now, limit)
            return []
        # A few more than the free slots, for rows that may not use a node they already failed on;
        # in turns between API keys, so one key's backlog does not hold the others back.
        live = waiting.filter(job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        head = fairness.fair_head(live, pipeline, model_id, min(free, limit) + 16)
        placed = fill_slots(head, candidates, cap, lambda entry: set(entry.excluded), limit, rng)
        assignments = [assign(entry, nodes[chosen.key], worker, now) for entry, chosen in placed]
        return [a for a in assignments if a is not None]


def lock_capability(key: str, now: Any) -> None:
    """Inside a transaction: hold the capability until it commits (PostgreSQL: the row's lock;
    SQLite: the write lock every IMMEDIATE transaction takes anyway)."""
    if not QueueLock.objects.filter(capability=key).update(dispatched_at=now):
        QueueLock.objects.get_or_create(capability=key)
        QueueLock.objects.select_for_update().filter(capability=key).first()


def assign(entry: QueuedStage, node: Orchestrator | None, worker: str, now: Any) -> Assignment | None:
    """The row taken for `worker`, with its attempt; None if another took it first."""
    taken = QueuedStage.objects.filter(id=entry.id, state=QueueState.WAITING).update(
        state=QueueState.RUNNING, worker=worker, orchestrator=node
    )
    if not taken:
        return None
    attempt = StageAttempt.objects.create(
        job_id=entry.job_id,
        stage=entry.pipeline,
        orchestrator=node,
        pipeline=entry.pipeline,
        model_id=entry.model_id,
        started_at=now,
        message="" if node is not None else "fallback provider",
    )
    QueuedStage.objects.filter(id=entry.id).update(attempt=attempt)
    started = Job.objects.filter(id=entry.job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now, updated_at=now
    )
    if started and entry.api_key_id is not None:
        webhooks.announce([entry.job_id], "started")
    service_uri = node.service_uri if node is not None else settings.FALLBACK_PROVIDER_URL
    return Assignment(
        entry.id,
        str(entry.job_id),
        attempt.id,
        entry.pipeline,
        entry.model_id,
        node.id if node is not None else None,
        service_uri,
    )


def serve_unsold(pipeline: str, model_id: str, waiting: Any, worker: str, now: Any, limit: int) -> list[Assignment]:
    """No known node offers the capability at all: the fallback provider serves it, or it fails at once."""
    if settings.FALLBACK_PROVIDER_URL:
        # In the same turns, and under the same per-key cap, as the network's slots.
        live = waiting.filter(job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        head = fairness.fair_head(live, pipeline, model_id, limit)
        return [a for a in (assign(entry, None, worker, now) for entry in head) if a is not None]
    grace = timedelta(seconds=settings.QUEUE_WAIT_FOR_NODES_S)
    reason = unsold_reason(capability_key(pipeline, model_id))
    fail_waiting(waiting.filter(enqueued_at__lte=now - grace), "no_orchestrator", reason)
    return []


def unsold(pipeline: str, model_id: str) -> str:
    """Why no job for this capability can be served (no known node sells it), or "" when one may be."""
    if settings.FALLBACK_PROVIDER_URL or settings.QUEUE_WAIT_FOR_NODES_S or not slots.network_known():
        return ""
    if slots.may_be_sold(pipeline, model_id):
        return ""
    return unsold_reason(capability_key(pipeline, model_id))


def unsold_reason(key: str) -> str:
    return f"No orchestrator in the network offers {key}."


def fail_waiting(waiting: Any, code: str, message: str) -> None:
    job_ids = list(waiting.values_list("job_id", flat=True))
    if not job_ids:
        return
    finish_jobs(job_ids, JobStatus.FAILED, code, message)


def finish_jobs(job_ids: list[Any], status: str, code: str = "", message: str = "") -> list[Any]:
    """Finish unfinished jobs and drop their rows; returns the ids this call finished."""
    now = timezone.now()
    with transaction.atomic():
        # Row, then job, as everywhere.
        list(QueuedStage.objects.select_for_update().filter(job_id__in=job_ids).values_list("id", flat=True))
        finished = list(
            Job.objects.filter(id__in=job_ids, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).values_list(
                "id", flat=True
            )
        )
        Job.objects.filter(id__in=finished).update(
            status=status, error_code=code, error_message=message, finished_at=now, updated_at=now
        )
        QueuedStage.objects.filter(job_id__in=job_ids).delete()
        webhooks.announce(finished, "completed")
        if finished:
            for receiver, result in jobs_finished.send_robust(sender=Job, job_ids=finished, status=status):
                if isinstance(result, Exception):
                    logger.error("%s failed on finished jobs %s", receiver, finished, exc_info=result)
            from livepeer_ai.gateway.progress import publish_job_ids

            transaction.on_commit(lambda: publish_job_ids(finished))
    return finished


def expire_waiting(worker: str, limit: int = 1000) -> list[Assignment]:
    """Stages past the maximum wait go to the fallback provider, or fail with the reason.

    Per capability under its lock, as dispatch is, so no row is taken twice.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.QUEUE_MAX_WAIT_S)
    keys = list(
        QueuedStage.objects.filter(state=QueueState.WAITING, enqueued_at__lt=cutoff)
        .values_list("pipeline", "model_id")
        .distinct()
        .order_by()
    )
    assignments: list[Assignment] = []
    for pipeline, model_id in keys:
        key = capability_key(pipeline, model_id)
        with transaction.atomic():
            lock_capability(key, now)
            old = QueuedStage.objects.filter(
                pipeline=pipeline, model_id=model_id, state=QueueState.WAITING, enqueued_at__lt=cutoff
            ).order_by("-priority", "id")
            if settings.FALLBACK_PROVIDER_URL:
                live = old.filter(job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
                head = fairness.fair_head(live, pipeline, model_id, max(0, limit - len(assignments)))
                taken = (assign(entry, None, worker, now) for entry in head)
                assignments += [a for a in taken if a is not None]
                continue
            for entry in old:
                reason = f"No orchestrator could take {entry.capability} within {settings.QUEUE_MAX_WAIT_S} s"
                last = f"; last error: {entry.last_error}" if entry.last_error else " (all busy or failing)"
                finish_jobs([entry.job_id], JobStatus.FAILED, "runner_503", reason + last)
    return assignments


# -- engine workers ---------------------------------------------------------


def heartbeat(worker: str) -> None:
    if not EngineWorker.objects.filter(name=worker).update(heartbeat_at=timezone.now()):
        EngineWorker.objects.get_or_create(name=worker)


def reclaim_lost(grace_s: float | None = None) -> list[str]:
    """Stages held by workers whose heartbeat stopped go back to the head of their queue.

    Their attempts end as `lost`; the node stopped the work when the stream
    closed and charges nothing for it, so the stage runs (and is paid) once more.
    """
    lease = timedelta(seconds=settings.ENGINE_LEASE_S if grace_s is None else grace_s)
    cutoff = timezone.now() - lease
    alive = EngineWorker.objects.filter(heartbeat_at__gte=cutoff).values_list("name", flat=True)
    with transaction.atomic():
        lost = list(
            QueuedStage.objects.select_for_update()
            .filter(state=QueueState.RUNNING)
            .exclude(worker__in=list(alive))
            .values_list("id", "attempt_id", "pipeline", "model_id")
        )
        if not lost:
            return []
        release([entry_id for entry_id, *_ in lost])
        StageAttempt.objects.filter(id__in=[a for _, a, _, _ in lost if a], outcome="").update(
            outcome=AttemptOutcome.LOST, message="the engine worker driving it stopped"
        )
        EngineWorker.objects.filter(heartbeat_at__lt=cutoff).delete()
    keys = sorted({capability_key(p, m) for _, _, p, m in lost})
    logger.warning("re-queued %d stage(s) of stopped engine workers: %s", len(lost), ", ".join(keys))
    return keys


def release(entry_ids: list[int], attempt_id: int | None = None) -> None:
    """Back to waiting, keeping their place: the slot they held is free again.

    With `attempt_id`, only while that attempt still holds the row (it may have been re-queued).
    """
    rows = QueuedStage.objects.filter(id__in=entry_ids, state=QueueState.RUNNING)
    if attempt_id is not None:
        rows = rows.filter(attempt_id=attempt_id)
    rows.update(state=QueueState.WAITING, worker="", orchestrator=None, attempt=None)


def release_orphans(worker: str, running: set[int], before: Any) -> list[str]:
    """Rows this live worker holds but runs no stage for (a task lost to an error): back to the queue.

    Only rows dispatched before `before`, so one dispatched while the caller looked is not taken.
    """
    with transaction.atomic():
        orphans = list(
            QueuedStage.objects.select_for_update()
            .filter(worker=worker, state=QueueState.RUNNING, attempt__started_at__lt=before)
            .exclude(id__in=running)
            .values_list("id", "attempt_id", "pipeline", "model_id")
        )
        if not orphans:
            return []
        release([entry_id for entry_id, *_ in orphans])
        StageAttempt.objects.filter(id__in=[a for _, a, _, _ in orphans if a], outcome="").update(
            outcome=AttemptOutcome.LOST, message="the engine lost track of it"
        )
    logger.warning("re-queued %d stage(s) this engine had lost track of", len(orphans))
    return sorted({capability_key(p, m) for _, _, p, m in orphans})
