"""Offering jobs through the public API and reading back what happened to each one.

Jobs go in through `POST /api/v1/<pipeline>` with `Prefer: respond-async`, as a
burst or open-loop Poisson arrivals. Right after its 202 each job is polled
(`GET /api/v1/jobs/<id>`) at once, at 0.5 s and at 1 s: does the caller see a
queue position, or is the job already running, within a second? After that,
completion is read from the database, one query a second, instead of polling
every job over HTTP: the web process shares the two cores with everything else,
and hundreds of waiting jobs polled each second would load what is measured.
At the end every job is read once through the API (its status and result).

Each job carries a unique seed; the stand-in runners record it with their busy
intervals, which is how a runner interval is matched to its job.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.stack import MODELS

FIRST_SECOND_POLLS_S = (0.0, 0.5, 1.0)
# A 64×64 PNG: image-to-video's upload (the stand-in ignores its pixels; the gateway measures it).
_PNG_CACHE: list[bytes] = []


def small_png() -> bytes:
    if not _PNG_CACHE:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, format="PNG")
        _PNG_CACHE.append(buffer.getvalue())
    return _PNG_CACHE[0]


@dataclass
class Offered:
    pipeline: str
    seed: int
    sent_at: float
    accepted_at: float = 0.0
    request_id: str = ""
    status_code: int = 0
    # (seconds after the 202, status, queue_position) for the first-second polls
    polls: list[tuple[float, str, int | None]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)

    @property
    def position_within_1s(self) -> bool:
        return any(position is not None for _, _, position in self.polls)

    @property
    def running_within_1s(self) -> bool:
        return any(status in {"running", "succeeded"} for _, status, _ in self.polls)


@dataclass
class Arrivals:
    """Which pipeline each job is and when it is offered, in seconds from the start."""

    schedule: list[tuple[float, str]]

    @classmethod
    def burst(cls, count: int, pipeline: str = "text-to-image") -> Arrivals:
        return cls([(0.0, pipeline)] * count)

    @classmethod
    def poisson(cls, rates: dict[str, float], seconds: float, rng: random.Random) -> Arrivals:
        schedule = []
        for pipeline, rate in rates.items():
            t = rng.expovariate(rate) if rate > 0 else seconds
            while t < seconds:
                schedule.append((t, pipeline))
                t += rng.expovariate(rate)
        return cls(sorted(schedule))

    @classmethod
    def steady(cls, rate: float, seconds: float, pipeline: str = "text-to-image") -> Arrivals:
        """One job every 1/rate seconds: a constant offered rate, to measure what each stage costs."""
        return cls([(i / rate, pipeline) for i in range(int(rate * seconds))])


class ApiLoad:
    def __init__(
        self, base_url: str, api_key: str, steps: dict[str, int], seed_base: int, first_second_polls: bool = True
    ) -> None:
        self.base_url = base_url
        # Off where the harness's own requests would load the web process being measured.
        self.first_second_polls = first_second_polls
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.steps = steps
        self.next_seed = seed_base

    def request(self, pipeline: str, seed: int) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "model_id": MODELS[pipeline],
            "width": 64,
            "height": 64,
            "num_inference_steps": self.steps[pipeline],
            "seed": seed,
        }
        if pipeline == "text-to-image":
            return {"json": {"prompt": f"engine bench {seed}", **fields}}
        data = {k: str(v) for k, v in fields.items()}
        return {"data": data, "files": {"image": ("first-frame.png", small_png(), "image/png")}}

    async def offer(self, arrivals: Arrivals) -> list[Offered]:
        """Send every job on its schedule (open loop: a slow answer never delays the next arrival)."""
        # At most 50 requests in flight: each holds one of the web process's DB connections while it is
        # served, and PostgreSQL's default max_connections (100) is shared with every other process here.
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=60, limits=limits) as client:
            start = time.monotonic()
            tasks = []
            for at, pipeline in arrivals.schedule:
                delay = start + at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.next_seed += 1
                offered = Offered(pipeline, self.next_seed, sent_at=time.time())
                tasks.append(asyncio.create_task(self._submit(client, offered)))
            return list(await asyncio.gather(*tasks))

    async def _submit(self, client: httpx.AsyncClient, offered: Offered) -> Offered:
        response = await client.post(
            f"/api/v1/{offered.pipeline}",
            headers={"Prefer": "respond-async"},
            **self.request(offered.pipeline, offered.seed),
        )
        offered.status_code = response.status_code
        offered.accepted_at = time.time()
        if response.status_code != 202:
            offered.final = {"status": "rejected", "body": response.text[:500]}
            return offered
        offered.request_id = response.json()["request_id"]
        accepted = time.monotonic()
        for at in FIRST_SECOND_POLLS_S if self.first_second_polls else ():
            delay = accepted + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            state = (await client.get(f"/api/v1/jobs/{offered.request_id}")).json()
            offered.polls.append((time.monotonic() - accepted, state["status"], state.get("queue_position")))
        return offered

    def read_final(self, offered: list[Offered]) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=30) as client:
            for job in offered:
                if job.request_id:
                    job.final = client.get(f"/api/v1/jobs/{job.request_id}").json()

    def cancel(self, request_ids: list[str]) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=30) as client:
            for request_id in request_ids:
                client.post(f"/api/v1/jobs/{request_id}/cancel")


def unfinished(request_ids: list[str]) -> list[str]:
    from livepeer_ai.gateway.models import Job

    try:
        return [
            str(pk)
            for pk in Job.objects.filter(id__in=request_ids, finished_at__isnull=True).values_list("id", flat=True)
        ]
    finally:
        from django.db import connection

        connection.close()


def wait_until_finished(request_ids: list[str], deadline_s: float) -> list[str]:
    """Poll the database once a second until every job finished or the deadline; the ones left."""
    deadline = time.monotonic() + deadline_s
    while True:
        left = unfinished(request_ids)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1.0)


@dataclass
class JobRecord:
    """One job as the database and the stand-in runners saw it; times in wall-clock seconds."""

    offered: Offered
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    no_capacity_attempts: int
    runner_start: float | None = None
    runner_end: float | None = None

    @property
    def wait_s(self) -> float | None:
        """From acceptance (the row's creation) to its stage's start on a runner."""
        return None if self.runner_start is None else self.runner_start - self.created_at

    @property
    def service_s(self) -> float | None:
        return None if self.runner_start is None or self.runner_end is None else self.runner_end - self.runner_start


def job_records(offered: list[Offered], busy: dict[str, Any]) -> list[JobRecord]:
    from django.db import connection

    from livepeer_ai.gateway.models import AttemptOutcome, Job

    by_seed: dict[int, tuple[float, float]] = {}
    for slot in busy["slots"]:
        for interval in slot["intervals"]:
            if interval["outcome"] == "ok" and interval["seed"] is not None:
                by_seed[int(interval["seed"])] = (interval["start"], interval["end"])
    ids = [o.request_id for o in offered if o.request_id]
    jobs = {str(job.id): job for job in Job.objects.filter(id__in=ids).prefetch_related("attempts")}
    records = []
    for item in offered:
        job = jobs.get(item.request_id)
        if job is None:
            continue
        attempts = list(job.attempts.all())
        record = JobRecord(
            offered=item,
            status=job.status,
            created_at=job.created_at.timestamp(),
            started_at=job.started_at.timestamp() if job.started_at else None,
            finished_at=job.finished_at.timestamp() if job.finished_at else None,
            attempts=len(attempts),
            no_capacity_attempts=sum(1 for a in attempts if a.outcome == AttemptOutcome.NO_CAPACITY),
        )
        if job.status == "succeeded" and item.seed in by_seed:
            record.runner_start, record.runner_end = by_seed[item.seed]
        records.append(record)
    connection.close()
    return records
