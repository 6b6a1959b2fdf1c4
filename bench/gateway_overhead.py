"""The gateway's own cost per job: dispatch time, inference excluded, at a fixed arrival rate.

    .venv/bin/python -m bench.gateway_overhead --rate 50 --seconds 20 --append docs/benchmarks/scheduling.md

Two real orchestrator nodes (`manage.py run_orchestrator`, separate processes) sell
text-to-image from real runner servers (`runner.app`, separate processes) whose
pipeline returns a fixed 64×64 picture at once: everything but inference is the
production code path. Jobs are public-API text-to-image jobs, created at `rate`
per second and driven by `engine.run_job` on a pool of threads, as Celery's
threaded workers do. Per job:

- run time: `run_job` from claim to finished row (DB writes, selection, info
  refresh, progress publishes, the orchestrator round trip, storing the output);
- round trip: the HTTP request to the orchestrator and its runner, as recorded
  in the job's StageAttempt;
- gateway overhead = run time − round trip;
- lag: from the job's creation to its finish, which grows without bound if the
  gateway cannot keep up with the rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from livepeer_ai.payments.anvil import DEFAULT_PRIVATE_KEYS
from livepeer_ai.percentile import percentile
from livepeer_ai.ports import free_port

MODEL_ID = "livepeer-ai/tiny-sdxl-turbo"
SECTION = "## Gateway overhead per job"
# anvil's well-known dev keys 1 and 2: throwaway node identities for the benchmark.
NODE_KEYS = DEFAULT_PRIVATE_KEYS[1:3]


class InstantTextToImage:
    """A text-to-image pipeline that answers at once: only the runner's own code path remains."""

    pipeline = "text-to-image"

    def __init__(self) -> None:
        from PIL import Image

        self.image = Image.new("RGB", (64, 64), (40, 90, 160))

    def __call__(self, *, on_progress: Any, seed: int, num_inference_steps: int, **_: Any) -> list[Any]:
        from livepeer_ai.pipelines.outputs import GeneratedImage

        for step in range(1, num_inference_steps + 1):
            on_progress(step, num_inference_steps)
        return [GeneratedImage(image=self.image, seed=seed)]


def serve_instant_runner(port: int) -> None:
    import uvicorn

    from livepeer_ai.pipelines.base import ModelSpec
    from livepeer_ai.runner.app import create_app

    spec = ModelSpec(pipeline="text-to-image", model_id=MODEL_ID, family="sdxl-turbo", local_path="")
    app = create_app(spec, loader=lambda _spec, _device: InstantTextToImage())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def wait_until_up(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout_s} s")


@contextmanager
def network(workdir: Path, nodes: int, runners_per_node: int) -> Iterator[list[str]]:
    """Start the runner and node processes; yield the nodes' service URIs; stop them all."""
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "LIVEPEER_VAR_DIR": str(workdir)}
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        node_urls = []
        for node_index in range(nodes):
            runner_urls = []
            for runner_index in range(runners_per_node):
                port = free_port()
                log = open(logs / f"runner-{node_index}-{runner_index}.log", "wb")  # noqa: SIM115 (closed with the process)
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bench.gateway_overhead", "runner", "--port", str(port)],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                runner_urls.append(f"http://127.0.0.1:{port}")
            port = free_port()
            config = workdir / f"node-{node_index}.toml"
            config.write_text(
                "\n".join(
                    [
                        "[node]",
                        f'name = "overhead-node-{node_index}"',
                        f"port = {port}",
                        f'service_uri = "http://127.0.0.1:{port}"',
                        f'private_key_env = "OVERHEAD_NODE_{node_index}_KEY"',
                        "health_interval_s = 5",
                        "",
                        "[[capabilities]]",
                        'pipeline = "text-to-image"',
                        f'model_id = "{MODEL_ID}"',
                        "warm = true",
                        "price_per_unit = 1",
                        "runners = [" + ", ".join(f'{{ url = "{url}" }}' for url in runner_urls) + "]",
                        "",
                    ]
                )
            )
            for url in runner_urls:
                wait_until_up(f"{url}/health")
            log = open(logs / f"node-{node_index}.log", "wb")  # noqa: SIM115
            processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "run_orchestrator", "--config", str(config)],
                    env={**env, f"OVERHEAD_NODE_{node_index}_KEY": NODE_KEYS[node_index % len(NODE_KEYS)]},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            node_urls.append(f"http://127.0.0.1:{port}")
        for url in node_urls:
            wait_until_up(f"{url}/info")
        yield node_urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Measured:
    run_s: list[float]
    round_trip_s: list[float]
    overhead_s: list[float]
    lag_s: list[float]
    failed: int
    span_s: float
    # From the first job created to the last finished: what the gateway sustained.
    makespan_s: float


def drive(rate: float, seconds: float, threads: int) -> Measured:
    from django.db import connection

    from livepeer_ai.gateway import engine, workflow
    from livepeer_ai.gateway.models import Job, JobStatus

    count = int(rate * seconds)
    run_s: dict[str, float] = {}
    lock = threading.Lock()

    def run(job_id: str) -> None:
        t0 = time.perf_counter()
        try:
            engine.run_job(job_id)
        finally:
            took = time.perf_counter() - t0
            with lock:
                run_s[job_id] = took
            connection.close()

    fields = {"prompt": "overhead", "width": 64, "height": 64, "num_inference_steps": 1, "model_id": MODEL_ID}
    ids = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for index in range(count):
            # Open-loop arrivals: job i is created at started + i / rate, whatever came before.
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            job = workflow.create_api_job("text-to-image", fields, None, None)
            ids.append(str(job.id))
            pool.submit(run, str(job.id))
    span = time.perf_counter() - started
    jobs = {str(job.id): job for job in Job.objects.filter(id__in=ids).prefetch_related("attempts")}
    round_trip, overhead, lag, runs = [], [], [], []
    failed = 0
    finished = [job.finished_at for job in jobs.values() if job.finished_at]
    makespan = (max(finished) - min(job.created_at for job in jobs.values())).total_seconds() if finished else 0.0
    for job_id in ids:
        job = jobs[job_id]
        if job.status != JobStatus.SUCCEEDED:
            failed += 1
            continue
        trip = sum(attempt.took_s or 0.0 for attempt in job.attempts.all())
        runs.append(run_s[job_id])
        round_trip.append(trip)
        overhead.append(run_s[job_id] - trip)
        lag.append((job.finished_at - job.created_at).total_seconds())
    return Measured(runs, round_trip, overhead, lag, failed, span, makespan)


def render_rate(measured: Measured, rate: float) -> list[str]:
    def row(name: str, values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return (
            f"| {name} | {statistics.fmean(ms):.1f} | {percentile(ms, 0.5) or 0.0:.1f} | "
            f"{percentile(ms, 0.95) or 0.0:.1f} | {max(ms):.1f} |"
        )

    done = len(measured.run_s)
    total = done + measured.failed
    sustained = done / measured.makespan_s if measured.makespan_s else 0.0
    return [
        f"### {rate:g} jobs/s offered",
        "",
        f"{total} jobs; {done} succeeded, {measured.failed} failed; offered within {measured.span_s:.1f} s "
        f"(the open-loop arrivals {'kept' if measured.span_s < total / rate * 1.1 else 'could not keep'} "
        f"their schedule); sustained {sustained:.1f} jobs/s from first creation to last finish.",
        "",
        "| per job (ms) | mean | p50 | p95 | max |",
        "|---|---|---|---|---|",
        row("gateway overhead (dispatch, inference excluded)", measured.overhead_s),
        row("orchestrator + runner round trip", measured.round_trip_s),
        row("`run_job` total", measured.run_s),
        row("created → finished (includes waiting for a thread)", measured.lag_s),
        "",
    ]


def render(results: list[tuple[float, Measured]], seconds: float, threads: int, nodes: int, runners: int) -> str:
    rates = ",".join(f"{rate:g}" for rate, _ in results)
    command = (
        f"python -m bench.gateway_overhead --rate {rates} --seconds {seconds:g} --threads {threads} "
        f"--nodes {nodes} --runners {runners}"
    )
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` (`{command}`), "
        f"on {os.cpu_count()} CPU cores shared by the gateway, {nodes} orchestrator node processes and "
        f"{nodes * runners} instant runner processes; SQLite, in-memory channel layer.",
        "",
        "Public-API text-to-image jobs offered open-loop at each rate for the same duration. Runners answer "
        "at once, so the round trip is the orchestrator node and runner HTTP hops plus encoding a 64×64 PNG, "
        "and the gateway overhead is everything else `run_job` does: claiming the job, selection over fresh "
        "`/info`, the attempt rows, progress publishes, storing the output, finishing the row.",
        "",
    ]
    for rate, measured in results:
        lines += render_rate(measured, rate)
    return "\n".join(lines)


def append_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of the file (the simulation writes the rest)."""
    text = path.read_text() if path.exists() else ""
    if SECTION in text:
        text = text[: text.index(SECTION)]
    path.write_text(text.rstrip("\n") + "\n\n" + section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    runner = sub.add_parser("runner", help="serve one instant text-to-image runner")
    runner.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", default="50", help="jobs per second; several, comma-separated, run in turn")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--runners", type=int, default=4, help="instant runners per node")
    parser.add_argument("--append", default="docs/benchmarks/scheduling.md")
    args = parser.parse_args()
    if args.command == "runner":
        serve_instant_runner(args.port)
        return

    workdir = Path(tempfile.mkdtemp(prefix="overhead-"))
    os.environ["LIVEPEER_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
    os.environ.pop("DATABASE_URL", None)
    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from livepeer_ai.registry import curation

    # The gateway routes, and the nodes sell, only approved models.
    curation.register({"pipeline": "text-to-image", "model_id": MODEL_ID, "family": "sdxl-turbo"}, status="approved")
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with network(workdir, args.nodes, args.runners) as node_urls:
        settings.ORCHESTRATOR_URLS = node_urls
        settings.QUEUE_POLL_S = 0.01
        results = [(float(rate), drive(float(rate), args.seconds, args.threads)) for rate in args.rate.split(",")]
    section = render(results, args.seconds, args.threads, args.nodes, args.runners)
    append_section(Path(args.append), section)
    print(section)


if __name__ == "__main__":
    main()
