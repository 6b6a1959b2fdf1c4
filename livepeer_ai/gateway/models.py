from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}


class Job(models.Model):
    """A workflow of stages (text-to-image → image-to-video → …); this row is the truth.

    The driver moves it queued → running(stage, step/total) → succeeded | failed |
    canceled; a page reload or a second tab renders whatever is here.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
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

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("studio-job", args=[self.id])

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def current_stage(self) -> str:
        if not self.stages:
            return ""
        return self.stages[min(self.stage_index, len(self.stages) - 1)]

    @property
    def percent(self) -> int:
        """Overall progress across stages, each stage weighted equally."""
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.stages:
            return 0
        # Steps fill 90 % of a stage; decoding and encoding after the last step
        # take the rest, so the bar never sits at 100 % before the GIF exists.
        within = 0.9 * self.step / self.total_steps if self.total_steps else 0.0
        return int(100 * (self.stage_index + within) / len(self.stages))

    @property
    def finishing_stage(self) -> bool:
        return self.status == JobStatus.RUNNING and self.total_steps > 0 and self.step >= self.total_steps

    def output_url(self, stage: str, kind: str) -> str:
        path = self.outputs.get(stage, {}).get(kind)
        return f"{settings.MEDIA_URL}{path}" if path else ""
