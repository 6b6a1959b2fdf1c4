"""One stage on the node the queue chose: what is sent, and what each outcome does.

The engine (gateway/engine.py) calls these, in order, around the stream itself:
`prepare` (the request, and payment on chain) → the stream → `succeeded`,
`failed`, `abandoned` or `handed_back`. Every one of them ends the attempt with
an outcome and frees or keeps the slot in the ledger (gateway/slots.py):

- A node that answers 503 is busy, not broken: the stage keeps its place at the
  head of the queue and the node counts as full; no suspension.
- A 503 `chain_unavailable` (the node's chain, or the gateway's, did not answer) is
  no failure of the node's either: the stage keeps its place, and the engine sends
  that node nothing for a back-off that grows while the outage lasts
  (network.ChainOutages); no suspension, no failed try.
- A node that fails or times out is suspended (growing back-off) and the stage
  waits for another node, bounded in count (STAGE_MAX_ATTEMPTS) and total time.
- A 4xx is the caller's error: the job fails, no retry, no suspension; so does a
  payment the gateway itself refuses to make (402): that is not the node's fault.
- A result whose receipts do not verify (gateway/receipts.py) is the node's
  failure like any other. The fallback provider is no network node and signs
  nothing; its results are taken without receipts.
- A result that arrives for a stage no longer this attempt's (its worker was
  thought dead and the stage re-queued) is dropped: a stage finishes once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from livepeer_ai.gateway import network, queue, slots, wake, webhooks, workflow
from livepeer_ai.gateway.models import (
    AttemptOutcome,
    Job,
    JobStatus,
    Orchestrator,
    QueuedStage,
    QueueState,
    StageAttempt,
)
from livepeer_ai.gateway.payment import StagePayment, pay_for_stage
from livepeer_ai.gateway.progress import publish_job_ids
from livepeer_ai.gateway.receipts import OutputReceipt, store_stage_receipts, verify_stage_receipts
from livepeer_ai.gateway.stage_request import StageRequest
from livepeer_ai.json_input import storable
from livepeer_ai.messages import CHAIN_UNAVAILABLE, GATEWAY_CANNOT_PAY
from livepeer_ai.payments.receipts import JOB_ID_HEADER, ReceiptInvalid
from livepeer_ai.runner.client import RunnerError

logger = logging.getLogger(__name__)


class JobAbandoned(Exception):
    """The job was canceled (or its stage taken from this attempt) while the stage ran."""


@dataclass
class PreparedStage:
    """Everything the engine needs to send one stage, read from the DB before the stream starts."""

    url: str
    request: StageRequest
    headers: dict[str, str]
    node_address: str
    job_id_signed: str
    stage_index: int
    # Upscale's frames share one progress bar: this is piece `piece` of `pieces`.
    piece: int = 0
    pieces: int = 1
    charge: Callable[[], None] = lambda: None
    # Books the tickets sent with the request the node says it took (payments/sender.py), given its header.
    accepted: Callable[[str], None] | None = None
    # The fee `charge` books (gateway/payment.py); None when the stage is not paid for.
    fee_wei: int | None = None
    # Files to make from the answer off the DB thread before it is stored (workflow.media_work).
    media_work: Callable[[dict[str, Any]], workflow.Media] | None = None
    # Whether the job's webhook asked for progress, and when this stage last sent it (gateway/webhooks.py).
    webhook_progress: bool = False
    progress_announced_at: float = 0.0
    # Whether the node is asked for previews of the stage as it forms (workflow.shows_previews).
    previews: bool = False

    def overall(self, step: int, total: int) -> tuple[int, int]:
        """A piece's (step, total) as the whole stage's."""
        return self.piece * total + step, self.pieces * total


def stage_job_id(job: Job, stage: str) -> str:
    """What the node signs as the receipts' job id."""
    return f"{job.id}:{stage}"


def holds(assignment: queue.Assignment) -> QueuedStage | None:
    """The row, if it is still this attempt's to run."""
    return QueuedStage.objects.filter(
        id=assignment.entry_id, state=QueueState.RUNNING, attempt_id=assignment.attempt_id
    ).first()


def prepare(assignment: queue.Assignment) -> PreparedStage:
    entry = holds(assignment)
    job = Job.objects.filter(id=assignment.job_id, status=JobStatus.RUNNING).first()
    if entry is None or job is None:
        raise JobAbandoned
    request = workflow.stage_request(job, entry.stage_index, entry.part)
    stage = job.stages[entry.stage_index]
    StageAttempt.objects.filter(id=assignment.attempt_id).update(stage=stage, units=request.units, steps=request.steps)
    piece, pieces = workflow.stage_pieces(job, entry.stage_index)
    if job.stage_index != entry.stage_index or piece == 0:
        # The engine tells the watchers (from its loop: no round trip from this thread).
        Job.objects.filter(id=job.id).update(
            stage_index=entry.stage_index, step=0, total_steps=0, updated_at=timezone.now()
        )
    prepared = PreparedStage(
        url=assignment.service_uri,
        request=request,
        headers={JOB_ID_HEADER: stage_job_id(job, stage)},
        node_address="",
        job_id_signed=stage_job_id(job, stage),
        stage_index=entry.stage_index,
        piece=piece,
        pieces=pieces,
        media_work=workflow.media_work(job, entry.stage_index),
        webhook_progress=job.api_key_id is not None and webhooks.wants(job, "progress"),
        previews=workflow.shows_previews(job),
    )
    if assignment.orchestrator_id is not None:
        prepared.node_address = Orchestrator.objects.get(id=assignment.orchestrator_id).address
    return prepared


def pay(assignment: queue.Assignment, prepared: PreparedStage) -> StagePayment:
    """Tickets for the stage at the node's price (on chain); off chain, nothing to attach."""
    if assignment.orchestrator_id is None:
        raise ValueError("A stage on the fallback provider is not paid in tickets.")
    node = Orchestrator.objects.get(id=assignment.orchestrator_id)
    request = prepared.request
    return pay_for_stage(node, request.pipeline, request.model_id, request.units)


def slot_freed(assignment: queue.Assignment) -> None:
    """The node answered: the stage still holds its row, but no longer the node's slot in the ledger."""
    QueuedStage.objects.filter(
        id=assignment.entry_id, attempt_id=assignment.attempt_id, state=QueueState.RUNNING
    ).update(orchestrator=None)


def record_progress(job_id: str, prepared: PreparedStage, step: int, total: int) -> bool:
    """The row moves on; False once the job is no longer running (canceled meanwhile).

    A webhook that asked for progress gets it at most every WEBHOOK_PROGRESS_MS, and the last step.
    """
    moved = Job.objects.filter(id=job_id, status=JobStatus.RUNNING).update(
        stage_index=prepared.stage_index, step=step, total_steps=total, updated_at=timezone.now()
    )
    now = time.monotonic()
    due = step >= total or now - prepared.progress_announced_at >= settings.WEBHOOK_PROGRESS_MS / 1000
    if moved and prepared.webhook_progress and due:
        prepared.progress_announced_at = now
        webhooks.announce([job_id], "progress")
    return bool(moved)


def record_streamed_text(job_id: str, stage: str, text: str) -> None:
    """A streamed llm answer's text so far, where the API's stream reads it; the result replaces it."""
    Job.objects.filter(id=job_id, status=JobStatus.RUNNING).update(
        outputs={stage: {"streamed": storable(text)}}, updated_at=timezone.now()
    )


def finish_attempt(
    attempt_id: int, outcome: str, took_s: float, exc: RunnerError | None = None, fee_wei: int | None = None
) -> None:
    fields: dict[str, Any] = {"outcome": outcome, "took_s": took_s, "fee_wei": fee_wei}
    if exc is not None:
        fields.update(status_code=exc.status, message=exc.message[:2000])
    StageAttempt.objects.filter(id=attempt_id).update(**fields)


def check_receipts(result: dict[str, Any], prepared: PreparedStage) -> list[OutputReceipt]:
    try:
        return verify_stage_receipts(
            result,
            prepared.node_address,
            job_id=prepared.job_id_signed,
            model_id=prepared.request.model_id,
            parameters_hash=prepared.request.parameters_hash,
            chain_id=settings.CHAIN_ID,
        )
    except ReceiptInvalid as exc:
        # 502: the node answered, but not with a result it stands behind.
        raise RunnerError(502, f"Receipt rejected: {exc}") from exc


def succeeded(
    assignment: queue.Assignment,
    prepared: PreparedStage,
    result: dict[str, Any],
    took_s: float,
    media: workflow.Media | None = None,
) -> None:
    receipts = check_receipts(result, prepared) if assignment.orchestrator_id is not None else []
    entry = holds(assignment)
    job = Job.objects.filter(id=assignment.job_id, status=JobStatus.RUNNING).first()
    if entry is None or job is None:
        # Canceled meanwhile, or re-queued as lost: this answer is not kept; a canceled job's row goes.
        abandoned(assignment, took_s)
        return
    # Only completed work is charged against the credit there, as the node debits it; the attempt
    # keeps the fee so that what jobs cost is read from the gateway's own books (gateway/costs.py).
    finish_attempt(assignment.attempt_id, AttemptOutcome.SUCCEEDED, took_s, fee_wei=prepared.fee_wei)
    prepared.charge()
    stage = job.stages[entry.stage_index]
    store_stage_receipts(job, stage, receipts)
    if assignment.orchestrator_id is not None:
        network.record_success(Orchestrator(id=assignment.orchestrator_id))
    more = workflow.store_result(job, entry.stage_index, entry.part, result, media)
    advance(job, entry, more)


def advance(job: Job, entry: QueuedStage, more_pieces: bool) -> None:
    """The next piece keeps the stage's place; the next stage joins the back of its own queue.

    Only while this attempt still holds the row and the job still runs: a job canceled while
    its result was stored ends here, and a row re-queued meanwhile is left to its new attempt.
    """
    with transaction.atomic():
        # Row, then job: the order every writer takes them in (gateway/queue.py).
        held = QueuedStage.objects.select_for_update().filter(
            id=entry.id, attempt_id=entry.attempt_id, state=QueueState.RUNNING
        )
        if not held.exists():
            return
        if not Job.objects.select_for_update().filter(id=job.id, status=JobStatus.RUNNING).exists():
            held.delete()
            return
        if more_pieces:
            held.update(
                state=QueueState.WAITING,
                part=entry.part + 1,
                worker="",
                orchestrator=None,
                attempt=None,
                failures=0,
                excluded=[],
                enqueued_at=timezone.now(),
            )
            transaction.on_commit(lambda: wake.notify(f"dispatch {entry.capability}"))
        elif entry.stage_index + 1 < len(job.stages):
            Job.objects.filter(id=job.id).update(
                stage_index=entry.stage_index + 1, step=0, total_steps=0, updated_at=timezone.now()
            )
            queue.enqueue(job, entry.stage_index + 1, priority=entry.priority)
            transaction.on_commit(lambda: publish_job_ids([job.id]))
        else:
            queue.finish_jobs([job.id], JobStatus.SUCCEEDED)


def failed(assignment: queue.Assignment, exc: RunnerError, took_s: float) -> None:
    entry = holds(assignment)
    if entry is None or not Job.objects.filter(id=assignment.job_id, status=JobStatus.RUNNING).exists():
        # Canceled while it ran (or re-queued as lost): nothing to retry.
        finish_attempt(assignment.attempt_id, AttemptOutcome.CANCELED, took_s, exc)
        QueuedStage.objects.filter(id=assignment.entry_id, attempt_id=assignment.attempt_id).delete()
        return
    where = assignment.service_uri
    if assignment.orchestrator_id is None:
        finish_attempt(assignment.attempt_id, AttemptOutcome.FAILED, took_s, exc)
        queue.finish_jobs(
            [entry.job_id], JobStatus.FAILED, f"runner_{exc.status}", f"Fallback provider failed: {exc.message}"
        )
        return
    if exc.status == 503:
        # Busy, or its chain did not answer: neither is the node's failure, nor a failed try of the stage.
        finish_attempt(assignment.attempt_id, AttemptOutcome.NO_CAPACITY, took_s, exc)
        with transaction.atomic():
            QueuedStage.objects.filter(id=entry.id, attempt_id=assignment.attempt_id).update(
                last_error=f"{where}: {exc.message}"[:2000]
            )
            queue.release([entry.id], assignment.attempt_id)
            if exc.code != CHAIN_UNAVAILABLE:
                # The engine holds a node whose chain is down back itself (network.ChainOutages).
                slots.mark_full(assignment.orchestrator_id, assignment.pipeline, assignment.model_id)
        return
    if exc.is_caller_error:
        finish_attempt(assignment.attempt_id, AttemptOutcome.REJECTED, took_s, exc)
        queue.finish_jobs([entry.job_id], JobStatus.FAILED, f"runner_{exc.status}", exc.message)
        return
    if exc.code == GATEWAY_CANNOT_PAY:
        # The gateway's own configuration: no node would be paid, and none is to blame.
        finish_attempt(assignment.attempt_id, AttemptOutcome.FAILED, took_s, exc)
        queue.finish_jobs([entry.job_id], JobStatus.FAILED, "internal_error", exc.message)
        return
    finish_attempt(assignment.attempt_id, AttemptOutcome.FAILED, took_s, exc)
    node = Orchestrator.objects.get(id=assignment.orchestrator_id)
    network.record_failure(node, exc.message)
    failures = entry.failures + 1
    last_error = f"{where}: {exc.message}"
    too_long = timezone.now() - entry.enqueued_at > timedelta(seconds=settings.STAGE_RETRY_WINDOW_S)
    if failures >= settings.STAGE_MAX_ATTEMPTS or too_long:
        stage = assignment.pipeline
        message = f"{stage} failed on {failures} orchestrator(s); last: {last_error}"
        queue.finish_jobs([entry.job_id], JobStatus.FAILED, f"runner_{exc.status}", message)
        return
    with transaction.atomic():
        QueuedStage.objects.filter(id=entry.id, attempt_id=assignment.attempt_id).update(
            failures=failures, excluded=[*entry.excluded, node.service_uri], last_error=last_error[:2000]
        )
        queue.release([entry.id], assignment.attempt_id)
    wake.notify(f"dispatch {entry.capability}")


def abandoned(assignment: queue.Assignment, took_s: float) -> None:
    """The job was canceled while its stage ran: the attempt ends, the row goes."""
    finish_attempt(assignment.attempt_id, AttemptOutcome.CANCELED, took_s)
    QueuedStage.objects.filter(id=assignment.entry_id, attempt_id=assignment.attempt_id).delete()


def handed_back(assignment: queue.Assignment, took_s: float) -> None:
    """The engine stops: the stage goes back to the head of its queue for another worker."""
    finish_attempt(assignment.attempt_id, AttemptOutcome.LOST, took_s, RunnerError(499, "engine worker stopped"))
    queue.release([assignment.entry_id], assignment.attempt_id)
    wake.notify(f"dispatch {assignment.capability}")


def internal_error(assignment: queue.Assignment, took_s: float) -> None:
    """A bug in the gateway: fail the job rather than re-run it forever; the log has the traceback."""
    finish_attempt(assignment.attempt_id, AttemptOutcome.FAILED, took_s, RunnerError(500, "gateway internal error"))
    if holds(assignment) is None:
        # Re-queued meanwhile and perhaps running elsewhere: that attempt decides the job.
        return
    queue.finish_jobs(
        [assignment.job_id],
        JobStatus.FAILED,
        "internal_error",
        "The gateway hit an internal error while running this job; it has been logged.",
    )
