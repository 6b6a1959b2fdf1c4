"""A deep queue: what one engine costs while 100 or 10,000 jobs wait, and whether their positions are right.

Both slots of the burst node are held by two long jobs, so every job seeded
behind them waits. The seeded jobs are rows as the public API makes them (one
`Job` and one `QueuedStage` each, for the bench's API key), written in bulk
because 10,000 API calls would measure the web process instead. Over a window,
the engine's own statement counter (its `--stats-file`) gives the DB load; its
threads and resident memory come from the OS; three jobs (first, middle, last)
are asked for their place through `GET /api/v1/jobs/<id>`, as a client would.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import stack
from bench.stack import HTTP, MODELS

WINDOW_S = 20.0
HOLD_S = 3600.0


def seed_waiting(count: int, api_key_prefix: str) -> list[str]:
    """`count` waiting text-to-image jobs, in queue order; returns their ids."""
    from django.db import transaction

    from livepeer_ai.gateway.models import ApiKey, Job, QueuedStage

    key = ApiKey.objects.get(prefix=api_key_prefix)
    model_id = MODELS["text-to-image"]
    jobs = []
    for index in range(count):
        request = {"prompt": f"deep queue {index}", "model_id": model_id, "width": 64, "height": 64}
        jobs.append(
            Job(
                id=uuid.uuid4(),
                prompt=request["prompt"],
                api_key=key,
                stages=["text-to-image"],
                parameters={"api": True, "request": {**request, "num_inference_steps": 1}},
            )
        )
    with transaction.atomic():
        Job.objects.bulk_create(jobs, batch_size=1000)
        QueuedStage.objects.bulk_create(
            [QueuedStage(job=job, pipeline="text-to-image", model_id=model_id, api_key=key) for job in jobs],
            batch_size=1000,
        )
    return [str(job.id) for job in jobs]


def clear_waiting(job_ids: list[str]) -> None:
    from livepeer_ai.gateway.models import Job, JobStatus, QueuedStage

    QueuedStage.objects.filter(job_id__in=job_ids).delete()
    Job.objects.filter(id__in=job_ids).update(status=JobStatus.CANCELED)


def run_depth(network: Any, burst_url: str, counts: tuple[int, ...], engine_stats: Path) -> list[str]:
    """The report's section: one row per queue depth."""
    headers = {"Authorization": f"Bearer {network.api_key}"}
    HTTP.post(
        f"{network.standin_url}/configure", json={"service": f"text-to-image={HOLD_S}", "jitter": 0.0}, timeout=10
    ).raise_for_status()
    env = {**network.env, "ORCHESTRATOR_URLS": burst_url}
    engine = network.processes.start("engine-depth", stack.engine_command("run_engine", 0, engine_stats), env)
    stack.wait_for(lambda: stack.engine_ready(engine, engine_stats), 90, engine.name)
    holders = []
    with httpx.Client(base_url=network.web_url, headers=headers, timeout=30) as client:
        for index in range(2):
            body = {"prompt": f"hold {index}", "model_id": MODELS["text-to-image"], "width": 64, "height": 64}
            answer = client.post("/api/v1/text-to-image", json=body, headers={"Prefer": "respond-async"})
            answer.raise_for_status()
            holders.append(answer.json()["request_id"])
        stack.wait_for(
            lambda: all(client.get(f"/api/v1/jobs/{h}").json()["status"] == "running" for h in holders),
            60,
            "both slots held",
        )
        rows = []
        try:
            for count in counts:
                rows.append(measure(client, count, network.api_key[:12], engine, engine_stats))
        finally:
            for holder in holders:
                client.post(f"/api/v1/jobs/{holder}/cancel")
            network.processes.stop([engine])
    lines = [
        f"### A deep queue: {' and '.join(f'{c:,}' for c in counts)} jobs waiting",
        "",
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip()
        + f" Window: {WINDOW_S:g} s per depth, one engine process.",
        "",
        "| jobs waiting | engine DB statements per second | per waiting job per second | engine threads | "
        "engine RSS | positions asked (first / middle / last) | `GET /api/v1/jobs/<id>` time (first / middle / last) |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    return lines


def measure(client: httpx.Client, count: int, key_prefix: str, engine: Any, stats_file: Path) -> str:
    job_ids = seed_waiting(count, key_prefix)
    try:
        time.sleep(3.0)
        before = stack.read_stats([stats_file]) or {"db_statements": 0}
        time.sleep(WINDOW_S)
        after = stack.read_stats([stats_file]) or {"db_statements": 0}
        per_s = (after["db_statements"] - before["db_statements"]) / WINDOW_S
        process = psutil.Process(engine.popen.pid)
        threads, rss = process.num_threads(), process.memory_info().rss
        positions, times = [], []
        for index in (0, count // 2, count - 1):
            started = time.monotonic()
            state = client.get(f"/api/v1/jobs/{job_ids[index]}").json()
            times.append(1000 * (time.monotonic() - started))
            shown = state.get("queue_position")
            positions.append(f"{shown}" + ("" if shown == index + 1 else f" (expected {index + 1})"))
    finally:
        clear_waiting(job_ids)
    return (
        f"| {count:,} | {per_s:.1f} | {per_s / count:.4f} | {threads} | {rss / 2**20:.0f} MiB | "
        f"{' / '.join(positions)} | {' / '.join(f'{t:.0f} ms' for t in times)} |"
    )
