"""How far a GIF job has come, and how long it has left, from how long such jobs took.

Each stage's share of the bar is its measured duration: the median, over the last
SAMPLE_JOBS finished jobs of the same shape (stages, models, size, steps), of the time
its attempts took (an upscale's frames summed). After the last stage answers,
the gateway still makes the GIF and MP4: that "finish" is measured too (the job's
end minus its last attempt's end) and holds the end of the bar, so the bar never
waits at 95 %. With no such job yet, every stage weighs the same and no time
left is given.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, StageAttempt
from livepeer_ai.gateway.queue import stage_model

# Finished jobs of the same shape the durations are taken over, and how many recent jobs are looked through.
SAMPLE_JOBS = 20
SCAN_JOBS = 100
# How long measured durations are kept between renders.
PHASES_CACHE_S = 30
# Steps fill this much of a stage when nothing is measured; decoding and storing take the rest.
UNMEASURED_STEP_SHARE = 0.9

STAGE_LABELS = {
    "text-to-image": "First frame",
    "image-to-video": "Video",
    "upscale": "Upscaled ×4",
    "frame-interpolation": "Smoothed motion",
}


@dataclass(frozen=True)
class JobProgress:
    # One decimal: with measured weights a short first stage moves the bar by less than 1 % a step,
    # and a bar that reads 0 after some steps would look like a job that started again.
    percent: float
    stage_label: str
    elapsed_s: int
    # Seconds left, from the measured durations; None when nothing is measured yet.
    remaining_s: int | None


def shape(job: Job) -> tuple[Any, ...]:
    """What a job's duration depends on: its stages and their models, size and step counts."""
    p = job.parameters
    return (
        tuple(job.stages),
        tuple(stage_model(job, stage) for stage in job.stages),
        p.get("width"),
        p.get("height"),
        p.get("text_to_image_steps"),
        p.get("image_to_video_steps"),
        p.get("upscale_steps"),
        p.get("interpolation_multiplier"),
    )


def measured_phases(job: Job) -> list[float] | None:
    """Median seconds of each stage, then of the finish, over recent succeeded jobs shaped like `job`."""
    wanted = shape(job)
    recent = (
        Job.objects.filter(status=JobStatus.SUCCEEDED, stages=job.stages, finished_at__isnull=False)
        .exclude(id=job.id)
        .order_by("-finished_at")
        .only("id", "parameters", "stages", "finished_at")[:SCAN_JOBS]
    )
    alike = {j.id: j for j in recent if not j.parameters.get("api") and shape(j) == wanted}
    alike = dict(list(alike.items())[:SAMPLE_JOBS])
    if not alike:
        return None
    seconds: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ends: dict[Any, datetime] = {}
    attempts = StageAttempt.objects.filter(
        job_id__in=alike, outcome=AttemptOutcome.SUCCEEDED, took_s__isnull=False
    ).values_list("job_id", "stage", "started_at", "took_s")
    for job_id, stage, started_at, took in attempts:
        took_s = float(took or 0.0)
        seconds[job_id][stage] += took_s
        end = started_at + timedelta(seconds=took_s)
        ends[job_id] = max(ends.get(job_id, end), end)
    complete = [job_id for job_id in alike if job_id in ends and all(s in seconds[job_id] for s in job.stages)]
    if not complete:
        return None
    phases = [median(seconds[job_id][stage] for job_id in complete) for stage in job.stages]
    finish = median(max(0.0, (finished_at(alike[job_id]) - ends[job_id]).total_seconds()) for job_id in complete)
    return [*phases, finish]


def phases_key(job: Job) -> str:
    return "studio:phases:" + hashlib.sha1(repr(shape(job)).encode()).hexdigest()


def recent_phases(job: Job) -> list[float] | None:
    """`measured_phases`, kept PHASES_CACHE_S in the shared cache: the page is rendered on every step
    pushed to every watcher, and the durations of finished jobs change only when a job succeeds
    (`forget_phases`)."""
    key = phases_key(job)
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 - no cache (Redis down): measure each time
        return measured_phases(job)
    if cached is not None:
        return list(cached) or None
    phases = measured_phases(job)
    try:
        cache.set(key, phases or [], PHASES_CACHE_S)
    except Exception:  # noqa: BLE001 - as above
        pass
    return phases


def forget_phases(keys: list[str]) -> None:
    """A job of these shapes succeeded: the next render measures again. Without it, "nothing measured"
    was kept up to PHASES_CACHE_S after a shape's first GIF, and the next one's stages weighed the same."""
    try:
        cache.delete_many(keys)
    except Exception:  # noqa: BLE001 - no cache: nothing was kept either
        pass


def floor_tenth(value: float) -> float:
    return math.floor(value * 10) / 10


def finished_at(job: Job) -> datetime:
    return job.finished_at or timezone.now()


def job_progress(job: Job, now: datetime | None = None) -> JobProgress:
    now = now or timezone.now()
    stages = job.stages or [""]
    index = min(job.stage_index, len(stages) - 1)
    label = STAGE_LABELS.get(stages[index], stages[index])
    end = job.finished_at if job.is_finished and job.finished_at else now
    elapsed = max(0, int((end - job.created_at).total_seconds()))
    if job.status == JobStatus.SUCCEEDED:
        return JobProgress(100, label, elapsed, 0)
    within = job.step / job.total_steps if job.total_steps else 0.0
    phases = recent_phases(job) if job.stages else None
    if phases is None or sum(phases) <= 0:
        percent = floor_tenth(100 * (index + UNMEASURED_STEP_SHARE * within) / len(stages))
        return JobProgress(percent, label, elapsed, None)
    done = sum(phases[:index]) + phases[index] * within
    total = sum(phases)
    # Only a finished job is at 100 %.
    percent = min(99.9, floor_tenth(100 * done / total))
    remaining = None if job.is_finished else round(total - done + (job.eta_s or 0))
    return JobProgress(percent, label, elapsed, remaining)
