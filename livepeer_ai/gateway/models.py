from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

from livepeer_ai.payments.models import UsdRateAtTheTime, WeiField


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}


class WaitingLine(Protocol):
    """What a job asks of the queue (gateway/queue.py): where it waits, and to leave it."""

    def place_of(self, job: Job) -> Any: ...

    def cancel_job(self, job: Job) -> bool: ...


class Job(UsdRateAtTheTime):
    """A workflow of stages (text-to-image → image-to-video → …); this row is the truth.

    The driver moves it queued → running(stage, step/total) → succeeded | failed |
    canceled; a page reload or a second tab renders whatever is here. Its ETH/USD
    rate is the one when it was submitted (`workflow` records it).
    """

    # The queue imports this module, so it is plugged in when the app is ready
    # (GatewayConfig.ready) instead of imported here: no models ↔ queue cycle.
    line: ClassVar[WaitingLine | None] = None

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    api_key = models.ForeignKey("ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    # Anonymous visitors own their jobs through their session.
    session_key = models.CharField(max_length=40, blank=True)
    prompt = models.TextField()
    parameters = models.JSONField(default=dict, blank=True)
    stages = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage_index = models.PositiveSmallIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    # Stage outputs: {"text-to-image": {"image": "jobs/<id>/image.png", "seed": 1}, …}
    outputs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The API client's `Idempotency-Key` (unique per API key), and the SHA-256 of the request it
    # came with: a retry with both the same gets this job back, never a second one.
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_idempotency_key_per_api_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("studio-job", args=[self.id])

    def cancel(self) -> bool:
        """Mark canceled unless already finished: a waiting stage leaves the queue, a running one is stopped."""
        return self.waiting_line().cancel_job(self)

    @classmethod
    def waiting_line(cls) -> WaitingLine:
        if cls.line is None:
            raise RuntimeError("gateway.queue is plugged into Job when the gateway app is ready")
        return cls.line

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        self.__dict__.pop("queue_place", None)

    @cached_property
    def queue_place(self) -> Any:
        """Where the job waits (gateway.queue.QueuePlace), or None when it is not waiting."""
        return self.waiting_line().place_of(self)

    @property
    def waiting_for(self) -> str:
        """'pipeline model_id' of the capability the job waits for; empty when it is not waiting."""
        return self.queue_place.capability if self.queue_place else ""

    @property
    def queue_position(self) -> int | None:
        return self.queue_place.position if self.queue_place else None

    @property
    def eta_s(self) -> float | None:
        return self.queue_place.eta_s if self.queue_place else None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def current_stage(self) -> str:
        if not self.stages:
            return ""
        return self.stages[min(self.stage_index, len(self.stages) - 1)]

    @property
    def finishing_stage(self) -> bool:
        return self.status == JobStatus.RUNNING and self.total_steps > 0 and self.step >= self.total_steps

    def output_url(self, stage: str, kind: str) -> str:
        path = self.outputs.get(stage, {}).get(kind)
        return f"{settings.MEDIA_URL}{path}" if path else ""

    def final_output_url(self, kind: str) -> str:
        """The `kind` ("gif", "mp4") of the last stage that made one: the finished result."""
        for stage in reversed(self.stages):
            if self.outputs.get(stage, {}).get(kind):
                return self.output_url(stage, kind)
        return ""


class Orchestrator(models.Model):
    """A node the gateway may send work to, and what it last said about itself."""

    service_uri = models.URLField(unique=True)
    address = models.CharField(max_length=42, blank=True)
    info = models.JSONField(default=dict, blank=True)
    info_fetched_at = models.DateTimeField(null=True, blank=True)
    reachable = models.BooleanField(default=True)
    # Suspension after failures grows with each one in a row (capacity refusals
    # don't count: a busy node is not a broken one).
    suspended_until = models.DateTimeField(null=True, blank=True)
    failures_in_row = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["service_uri"]

    def __str__(self) -> str:
        return self.service_uri

    def is_suspended(self, now: Any = None) -> bool:
        return self.suspended_until is not None and self.suspended_until > (now or timezone.now())

    def capability(self, pipeline: str, model_id: str) -> dict[str, Any] | None:
        for offered in self.info.get("capabilities", []):
            if offered.get("pipeline") == pipeline and offered.get("model_id") == model_id:
                return dict(offered)
        return None


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded"
    NO_CAPACITY = "no_capacity"
    FAILED = "failed"
    REJECTED = "rejected"  # the request itself was wrong (4xx): not the node's fault
    CANCELED = "canceled"
    # The engine worker driving it died (or stopped) mid-stage; the stage was queued again.
    LOST = "lost"


class StageAttempt(models.Model):
    """One try of one stage on one orchestrator: what selection learns latency and reliability from."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempts")
    stage = models.CharField(max_length=32)
    orchestrator = models.ForeignKey(
        Orchestrator, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts"
    )
    pipeline = models.CharField(max_length=32)
    model_id = models.CharField(max_length=200)
    units = models.PositiveBigIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    took_s = models.FloatField(null=True, blank=True)
    # The fee charged for this attempt, in wei (units × price_per_unit / pixels_per_unit, rounded
    # up: protocol/units.fee_wei, the rule the payment used): set only when the stage succeeded
    # on chain and the gateway booked the charge; null for a failed, refused or unpaid attempt.
    fee_wei = WeiField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["pipeline", "model_id", "started_at"]),
            # The operator page (one node's attempts in a period) and the network overview (all, by time).
            models.Index(fields=["orchestrator", "started_at"]),
            models.Index(fields=["outcome", "started_at"]),
        ]


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 24 random bytes in base64 (the signing key is those bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class ApiKey(models.Model):
    """A bearer key for the public API. Only its SHA-256 is stored; the key is shown once."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    # The key's jobs are dispatched before those of keys with a lower priority (FIFO within one).
    priority = models.SmallIntegerField(default=0)
    # At most this many wei of fees a UTC day (null: no limit); a submission that would pass it
    # is refused with 402 (gateway/usage.py).
    daily_spend_limit_wei = WeiField(null=True, blank=True, default=None)
    # Signs the webhooks of this key's jobs (gateway/webhooks.py); shown to the key's owner.
    webhook_secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, name: str, owner: Any = None) -> tuple[ApiKey, str]:
        key = "lpai_" + secrets.token_urlsafe(32)
        return cls.objects.create(name=name, owner=owner, prefix=key[:12], key_hash=cls.digest(key)), key

    @classmethod
    def authenticate(cls, key: str) -> ApiKey | None:
        found = cls.objects.filter(key_hash=cls.digest(key), revoked=False).first()
        if found is not None:
            cls.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        return found


class Receipt(models.Model):
    """An orchestrator's signed receipt for one output of one stage, verified when it arrived.

    The dispatcher stores it on arrival; `path` is filled once the workflow has
    saved the output it is for (blank for an output never saved). The id is a
    uuid because the receipt page is public: ids must not be enumerable.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="receipts")
    stage = models.CharField(max_length=32)
    kind = models.CharField(max_length=16)  # "image", "gif", "mp4" or "audio" (payments.receipts.output_media)
    path = models.CharField(max_length=500, blank=True)
    output_sha256 = models.CharField(max_length=64)
    signer = models.CharField(max_length=42)
    # {"receipt": {…}, "signature": "0x…", "signer": "0x…"}, exactly as signed.
    document = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["job", "stage", "output_sha256"])]

    def __str__(self) -> str:
        return f"{self.job_id} {self.stage} {self.kind} by {self.signer}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("receipt-detail", args=[self.id])

    @property
    def output_url(self) -> str:
        return f"{settings.MEDIA_URL}{self.path}" if self.path else ""


class QueueState(models.TextChoices):
    WAITING = "waiting"
    RUNNING = "running"


class QueuedStage(models.Model):
    """A job's next piece of work in the gateway queue: waiting for a slot, or holding one.

    One row per unfinished job (gateway/queue.py). Waiting rows cost nothing: the
    engine dispatches them when a slot frees, first by priority, then by id (the
    order they joined this stage's queue). A running row is the gateway's own
    reservation of one slot on `orchestrator`, held by engine `worker`.
    """

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="queued")
    stage_index = models.PositiveSmallIntegerField(default=0)
    # Which piece of the stage: the frame for upscale, else 0.
    part = models.PositiveIntegerField(default=0)
    pipeline = models.CharField(max_length=32)
    model_id = models.CharField(max_length=200)
    priority = models.SmallIntegerField(default=0)
    # The job's API key (None: a studio job), kept here so each key's turn is read from an index.
    api_key = models.ForeignKey("ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=8, choices=QueueState.choices, default=QueueState.WAITING)
    # When it joined this stage's queue: the maximum wait counts from here.
    enqueued_at = models.DateTimeField(default=timezone.now)
    orchestrator = models.ForeignKey(Orchestrator, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempt = models.ForeignKey(StageAttempt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    worker = models.CharField(max_length=100, blank=True)
    # Failed tries of this stage, and the nodes they failed on (not tried again for it).
    failures = models.PositiveSmallIntegerField(default=0)
    excluded = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["pipeline", "model_id", "state", "-priority", "id"], name="queue_order"),
            models.Index(fields=["state", "enqueued_at"], name="queue_age"),
            models.Index(fields=["worker", "state"], name="queue_worker"),
            models.Index(fields=["pipeline", "model_id", "state", "api_key", "id"], name="queue_key_turns"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} {self.pipeline} {self.model_id} {self.state}"

    @property
    def capability(self) -> str:
        return f"{self.pipeline} {self.model_id}"


class EngineWorker(models.Model):
    """A live engine process; one whose heartbeat stops has its running stages queued again."""

    name = models.CharField(max_length=100, primary_key=True)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    # When it last finished reading every node's /info (so "nobody sells it" can be said).
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class QueueLock(models.Model):
    """One row per capability: dispatching it takes this row's lock, so two workers never both fill one slot."""

    capability = models.CharField(max_length=240, primary_key=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)


class WebhookDelivery(models.Model):
    """One event of one API job, to POST to the webhook its request named (gateway/webhooks.py).

    Written with the change it reports, sent later by an engine off the job's path: pending
    while `next_attempt_at` is set, then delivered (`delivered_at`) or given up. The id is the
    `webhook-id` every try carries, so a receiver can drop a repeat.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhooks")
    event = models.CharField(max_length=16)
    url = models.URLField(max_length=2000)
    # The JSON body exactly as signed and sent, the same on every try.
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # An engine sending it holds it until then; one that died lets it go to another.
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.event} → {self.url}"
