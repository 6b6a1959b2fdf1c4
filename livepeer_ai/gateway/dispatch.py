"""Running one stage on the network: queue, choose, send, retry elsewhere, fall back.

- When no node has a free slot the job waits in the gateway queue, first come
  first served per (pipeline, model), with its position and an ETA, instead of
  failing with "insufficient capacity".
- A node that answers 503 is busy, not broken: try another, no suspension.
- A node that fails or times out is suspended (growing back-off) and the stage
  is retried on another, bounded in count and total time.
- A 4xx is the caller's error: no retry.
- Only models the registry approves are sent: one not approved, or disabled while
  the job waited, fails the stage before anything is sent (registry/curation.py).
- Past the queue's maximum wait the stage goes to the fallback provider, if one
  is configured, or fails with a clear reason.
- A result whose receipts do not verify (gateway/receipts.py) is the node's
  failure like any other: suspended, retried elsewhere. The fallback provider is
  no network node and signs nothing; its results are taken without receipts.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from livepeer_ai.gateway import network
from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, StageAttempt
from livepeer_ai.gateway.payment import pay_for_stage
from livepeer_ai.gateway.progress import publish_job_update
from livepeer_ai.gateway.receipts import OutputReceipt, store_stage_receipts, verify_stage_receipts
from livepeer_ai.gateway.selection import Candidate, PriceCap, choose, eligible, queue_admits
from livepeer_ai.payments.receipts import JOB_ID_HEADER, ReceiptInvalid, parameters_hash, request_parameters
from livepeer_ai.registry.curation import ModelNotRoutable, routable_model
from livepeer_ai.runner.client import OnProgress, RunnerClient, RunnerError

logger = logging.getLogger(__name__)


class JobAbandoned(Exception):
    """The job was canceled (or finished elsewhere) while a stage ran or waited."""


@dataclass
class StageRequest:
    pipeline: str
    model_id: str
    units: int
    steps: int
    json_body: dict[str, Any] | None = None
    form: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)

    @property
    def queue_key(self) -> str:
        return f"{self.pipeline} {self.model_id}"

    @property
    def parameters_hash(self) -> str:
        """The hash a node signs for these parameters as they arrive on the wire (payments/receipts.py)."""
        if self.json_body is not None:
            return parameters_hash(request_parameters(json.loads(json.dumps(self.json_body)), {}))
        # RunnerClient sends form values as strings, booleans in lower case.
        fields = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in self.form.items()}
        return parameters_hash(request_parameters(fields, {name: raw for name, (_, raw, _) in self.files.items()}))


def price_cap() -> PriceCap | None:
    if not settings.MAX_PRICE_PER_UNIT:
        return None
    return PriceCap(settings.MAX_PRICE_PER_UNIT, settings.MAX_PRICE_PIXELS_PER_UNIT)


def still_running(job: Job) -> None:
    if not Job.objects.filter(id=job.id, status=JobStatus.RUNNING).exists():
        raise JobAbandoned


def waiting_ahead(job: Job, key: str) -> int:
    """Jobs waiting for the same capability that came before this one."""
    waiting = Job.objects.filter(status=JobStatus.RUNNING, waiting_for=key).exclude(id=job.id)
    if job.waiting_since is not None:
        waiting = waiting.filter(waiting_since__lt=job.waiting_since)
    return waiting.count()


def expected_wait_s(request: StageRequest, position: int, total_capacity: int) -> float | None:
    """Position in rounds of the whole capacity, times the recent mean service time."""
    recent = list(
        StageAttempt.objects.filter(
            pipeline=request.pipeline, model_id=request.model_id, outcome=AttemptOutcome.SUCCEEDED
        )
        .order_by("-started_at")
        .values_list("took_s", flat=True)[:20]
    )
    if not recent:
        return None
    return sum(recent) / len(recent) * math.ceil(position / max(total_capacity, 1))


def enter_queue(job: Job, request: StageRequest, candidates: list[Candidate], ahead: int) -> None:
    capacity = sum(c.capacity for c in candidates if not c.suspended)
    job.waiting_for = request.queue_key
    job.waiting_since = job.waiting_since or timezone.now()
    job.queue_position = ahead + 1
    job.eta_s = expected_wait_s(request, job.queue_position, capacity)
    Job.objects.filter(id=job.id).update(
        waiting_for=job.waiting_for, waiting_since=job.waiting_since, queue_position=job.queue_position, eta_s=job.eta_s
    )
    publish_job_update(job)


def leave_queue(job: Job) -> None:
    if job.waiting_for:
        job.waiting_for, job.waiting_since, job.queue_position, job.eta_s = "", None, None, None
        Job.objects.filter(id=job.id).update(waiting_for="", waiting_since=None, queue_position=None, eta_s=None)
        publish_job_update(job)


def stage_job_id(job: Job, stage: str) -> str:
    """What the node signs as the receipts' job id."""
    return f"{job.id}:{stage}"


def send(
    url: str, request: StageRequest, on_progress: OnProgress, job_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    client = RunnerClient(url, timeout_s=settings.RUNNER_TIMEOUT_S)
    client.headers[JOB_ID_HEADER] = job_id
    client.headers.update(headers or {})
    if request.json_body is not None:
        return client.run(request.pipeline, json_body=request.json_body, on_progress=on_progress)
    return client.run(request.pipeline, form=request.form, files=request.files, on_progress=on_progress)


def dispatch_stage(
    job: Job, stage: str, request: StageRequest, on_progress: OnProgress, rng: random.Random | None = None
) -> dict[str, Any]:
    started = time.monotonic()
    failures = 0
    tried: set[str] = set()
    last_error = ""
    while True:
        still_running(job)
        try:
            routable_model(request.pipeline, request.model_id)
        except ModelNotRoutable:
            # Not approved, or disabled while the job waited: it fails here, before anything is sent or paid.
            leave_queue(job)
            raise
        candidates, nodes = network.candidates(request.pipeline, request.model_id)
        free = sum(c.free for c in eligible(candidates, price_cap(), set()))
        ahead = waiting_ahead(job, request.queue_key)
        chosen = choose(candidates, price_cap(), tried, rng) if queue_admits(ahead, free) else None
        if chosen is None:
            waited = (timezone.now() - job.waiting_since).total_seconds() if job.waiting_since else 0.0
            if waited >= settings.QUEUE_MAX_WAIT_S:
                leave_queue(job)
                return fall_back(job, stage, request, on_progress, waited, last_error)
            enter_queue(job, request, candidates, ahead)
            # Nodes tried in this round get another chance once the queue moves.
            tried.clear()
            time.sleep(settings.QUEUE_POLL_S)
            continue
        leave_queue(job)
        node = nodes[chosen.key]
        attempt = StageAttempt.objects.create(
            job=job,
            stage=stage,
            orchestrator=node,
            pipeline=request.pipeline,
            model_id=request.model_id,
            units=request.units,
            steps=request.steps,
        )
        t0 = time.monotonic()
        try:
            payment = pay_for_stage(node, request.pipeline, request.model_id, request.units)
            result = send(node.service_uri, request, on_progress, stage_job_id(job, stage), payment.headers)
            receipts = check_receipts(result, node.address, request, stage_job_id(job, stage))
        except JobAbandoned:
            finish_attempt(attempt, AttemptOutcome.CANCELED, t0)
            raise
        except RunnerError as exc:
            tried.add(chosen.key)
            last_error = f"{node.service_uri}: {exc.message}"
            if exc.status == 503:
                finish_attempt(attempt, AttemptOutcome.NO_CAPACITY, t0, exc)
                network.refresh_info(node, force=True)
                continue
            if exc.is_caller_error:
                finish_attempt(attempt, AttemptOutcome.REJECTED, t0, exc)
                raise
            finish_attempt(attempt, AttemptOutcome.FAILED, t0, exc)
            network.record_failure(node, exc.message)
            network.refresh_info(node, force=True)
            failures += 1
            if failures >= settings.STAGE_MAX_ATTEMPTS or time.monotonic() - started > settings.STAGE_RETRY_WINDOW_S:
                raise RunnerError(
                    exc.status, f"{stage} failed on {failures} orchestrator(s); last: {last_error}"
                ) from exc
            continue
        finish_attempt(attempt, AttemptOutcome.SUCCEEDED, t0)
        # Only completed work is charged against the credit there, as the node debits it.
        payment.charge()
        store_stage_receipts(job, stage, receipts)
        network.record_success(node)
        return result


def check_receipts(result: dict[str, Any], address: str, request: StageRequest, job_id: str) -> list[OutputReceipt]:
    try:
        return verify_stage_receipts(
            result,
            address,
            job_id=job_id,
            model_id=request.model_id,
            parameters_hash=request.parameters_hash,
            chain_id=settings.CHAIN_ID,
        )
    except ReceiptInvalid as exc:
        # 502: the node answered, but not with a result it stands behind.
        raise RunnerError(502, f"Receipt rejected: {exc}") from exc


def finish_attempt(attempt: StageAttempt, outcome: str, t0: float, exc: RunnerError | None = None) -> None:
    attempt.outcome = outcome
    attempt.took_s = time.monotonic() - t0
    if exc is not None:
        attempt.status_code, attempt.message = exc.status, exc.message[:2000]
    attempt.save(update_fields=["outcome", "took_s", "status_code", "message"])


def fall_back(
    job: Job, stage: str, request: StageRequest, on_progress: OnProgress, waited: float, last_error: str
) -> dict[str, Any]:
    if not settings.FALLBACK_PROVIDER_URL:
        reason = f"No orchestrator could take {request.queue_key} within {waited:.0f} s (all busy or failing)"
        raise RunnerError(503, f"{reason}; last error: {last_error}" if last_error else reason)
    attempt = StageAttempt.objects.create(
        job=job,
        stage=stage,
        pipeline=request.pipeline,
        model_id=request.model_id,
        units=request.units,
        steps=request.steps,
        message="fallback provider",
    )
    t0 = time.monotonic()
    try:
        result = send(settings.FALLBACK_PROVIDER_URL, request, on_progress, stage_job_id(job, stage))
    except RunnerError as exc:
        finish_attempt(attempt, AttemptOutcome.FAILED, t0, exc)
        raise RunnerError(exc.status, f"Fallback provider failed after a {waited:.0f} s wait: {exc.message}") from exc
    finish_attempt(attempt, AttemptOutcome.SUCCEEDED, t0)
    return result
