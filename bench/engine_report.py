"""From what one scenario did (jobs, runner intervals, CPU, engine stats) to numbers and Markdown."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.erlang import erlang_c, mean_wait, wait_percentile
from bench.load import JobRecord
from livepeer_ai.percentile import percentile


@dataclass
class Measured:
    """Everything a scenario measured, before it is turned into rows."""

    key: str
    title: str
    description: str
    workers: int
    records: list[JobRecord]
    offered: int
    rejected: int
    # pipeline → stand-in intervals [(start, end)] of this scenario's slots, and how many slots
    intervals: dict[str, list[tuple[float, float]]]
    slots: dict[str, int]
    # pipeline → mean service time the stand-ins were configured with
    configured_service_s: dict[str, float]
    arrival_span_s: float
    canceled_at_deadline: int
    cpu_s: dict[str, float]
    db_statements: int | None
    ideal_makespan_s: float | None = None
    notes: list[str] = field(default_factory=list)
    # Whether the harness asked each job its state in its first second (positions are known only then).
    polled: bool = True
    cores: int = 1
    # The engine processes' threads and resident memory, the most at once during the scenario.
    engine_threads: int = 0
    engine_rss_bytes: int = 0


# The processes a deployment runs for a stage, whose CPU per stage bounds the rate on a machine: the
# stand-in runner stands for GPU work, and the harness is the clients.
PRODUCT_GROUPS = ("engine processes", "web process", "node processes")
# Below this much waiting in a scenario, statements per waiting job per second is not reported.
MIN_WAITING_JOB_S = 60.0


def fmt(value: float | None, digits: int = 2, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}{unit}"


def share(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.0f} %)" if total else "0/0"


def busy_in(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in intervals)


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at the same instant (a stage that ends as another starts counts once)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = open_now = 0
    for _, change in events:
        open_now += change
        most = max(most, open_now)
    return most


def waiting_periods(waits: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of (acceptance, start) intervals: the times at which some job was waiting."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(waits):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass
class Summary:
    """The headline numbers of a scenario, for the table at the top of the report."""

    key: str
    jobs: int
    succeeded: int
    makespan_s: float | None
    ideal_s: float | None
    utilisation: float | None
    waited_utilisation: float | None
    # Of the jobs, the share that showed a queue position or were running within a second (None: not polled).
    seen_share: float | None
    mean_wait_s: float | None
    erlang_wait_s: float | None
    erlang_configured_wait_s: float | None
    overhead_p50_s: float | None
    overhead_p99_s: float | None
    product_cpu_per_stage_s: float | None
    cores: int


def summarise(m: Measured) -> tuple[Summary, list[str]]:
    """The scenario's Markdown section, and its summary row."""
    records = m.records
    done = [r for r in records if r.status == "succeeded"]
    created = [r.created_at for r in records]
    finished = [r.finished_at for r in done if r.finished_at]
    start = min(created) if created else 0.0
    end = max(finished) if finished else start
    makespan = end - start if finished else None
    lines = [f"### {m.title}", "", m.description, ""]
    lines += ["| measure | value |", "|---|---|"]
    lines.append(f"| engine processes (`--workers`) | {m.workers} |")
    lines.append(f"| jobs offered | {m.offered} ({m.rejected} refused by the API) |")
    statuses = {status: sum(1 for r in records if r.status == status) for status in sorted({r.status for r in records})}
    lines.append(
        f"| jobs finished | {share(len(done), len(records))} succeeded; "
        + ", ".join(f"{k}: {v}" for k, v in statuses.items())
        + " |"
    )
    if m.canceled_at_deadline:
        lines.append(f"| canceled at the drain deadline (still waiting) | {m.canceled_at_deadline} |")
    lines.append(f"| makespan (first acceptance → last finish) | {fmt(makespan, 1, ' s')} |")
    if m.ideal_makespan_s is not None:
        ratio = makespan / m.ideal_makespan_s if makespan else None
        lines.append(
            f"| ideal makespan (jobs × service / slots) | {fmt(m.ideal_makespan_s, 1, ' s')} (measured is {fmt(ratio, 2, '×')}) |"
        )
    utilisations = {}
    for pipeline, intervals in m.intervals.items():
        slots = m.slots.get(pipeline, 0)
        if not slots or not finished:
            continue
        utilisations[pipeline] = busy_in(intervals, start, end) / (slots * (end - start)) if end > start else 0.0
        lines.append(
            f"| slot utilisation, {pipeline} ({slots} slots, busy time ÷ slot time over the busy period) | "
            f"{100 * utilisations[pipeline]:.1f} % |"
        )
    for pipeline, intervals in m.intervals.items():
        lines.append(f"| stages on {pipeline} runners at once, most | {most_at_once(intervals)} |")
    if m.engine_threads:
        lines.append(
            f"| engine processes' threads / resident memory, most during the scenario | {m.engine_threads} / "
            f"{m.engine_rss_bytes / 2**20:.0f} MiB |"
        )
    waited_busy = waited_slot_s = 0.0
    for pipeline, intervals in m.intervals.items():
        slots = m.slots.get(pipeline, 0)
        waiting = waiting_periods(
            [(r.created_at, r.created_at + r.wait_s) for r in done if r.wait_s and r.offered.pipeline == pipeline]
        )
        span = sum(e - s for s, e in waiting)
        if not slots or span <= 0:
            continue
        busy = sum(busy_in(intervals, s, e) for s, e in waiting)
        waited_busy += busy
        waited_slot_s += slots * span
        lines.append(
            f"| slot utilisation, {pipeline}, while jobs waited (busy ÷ slot time over the {span:.1f} s "
            f"in which at least one job waited) | {100 * busy / (slots * span):.1f} % |"
        )
    with_position = sum(1 for r in records if r.offered.position_within_1s)
    running = sum(1 for r in records if r.offered.running_within_1s)
    either = sum(1 for r in records if r.offered.position_within_1s or r.offered.running_within_1s)
    if m.polled:
        lines.append(f"| shows a `queue_position` within 1 s of its 202 | {share(with_position, len(records))} |")
        lines.append(f"| already running within 1 s | {share(running, len(records))} |")
        lines.append(
            f"| neither (plain `queued`, no position, for its first second) | {share(len(records) - either, len(records))} |"
        )
    else:
        lines.append("| queue positions in the first second | not asked in this scenario |")
    waits = [r.wait_s for r in done if r.wait_s is not None]
    summary_wait = statistics.fmean(waits) if waits else None
    erlang_wait = erlang_configured = None
    for pipeline in m.intervals:
        waits_p = [r.wait_s for r in done if r.wait_s is not None and r.offered.pipeline == pipeline]
        services = [r.service_s for r in done if r.service_s is not None and r.offered.pipeline == pipeline]
        if not waits_p:
            continue
        lines.append(
            f"| wait, {pipeline} (acceptance → start on a runner): mean / p50 / p95 / max | "
            f"{fmt(statistics.fmean(waits_p))} / {fmt(percentile(waits_p, 0.5))} / {fmt(percentile(waits_p, 0.95))} / "
            f"{fmt(max(waits_p))} s |"
        )
        count = sum(1 for r in records if r.offered.pipeline == pipeline)
        slots = m.slots.get(pipeline, 0)
        if m.arrival_span_s > 0 and services and slots:
            rate = count / m.arrival_span_s
            mu = 1 / statistics.fmean(services)
            rho = rate / (slots * mu)
            wq = mean_wait(slots, rate, mu)
            erlang_wait = wq if erlang_wait is None else erlang_wait
            configured_s = m.configured_service_s.get(pipeline)
            configured_wq = mean_wait(slots, rate, 1 / configured_s) if configured_s else None
            erlang_configured = configured_wq if erlang_configured is None else erlang_configured
            # A run starts from an empty queue: the first third of the arrivals see a system still filling.
            settled = [
                r.wait_s
                for r in done
                if r.wait_s is not None
                and r.offered.pipeline == pipeline
                and r.created_at >= start + m.arrival_span_s / 3
            ]
            if settled:
                lines.append(
                    f"| wait, {pipeline}, jobs accepted after the first third of the arrivals (the queue settled): "
                    f"mean / p95 | {fmt(statistics.fmean(settled))} / {fmt(percentile(settled, 0.95))} s |"
                )
            lines.append(
                f"| Erlang C for {pipeline}: c = {slots}, λ = {rate:.2f}/s, μ = {mu:.2f}/s (measured service), ρ = {rho:.2f}: "
                f"P(wait) / Wq / p95 | {fmt(erlang_c(slots, rate / mu) if rho < 1 else 1.0)} / {fmt(wq)} s / "
                f"{fmt(wait_percentile(slots, rate, mu, 0.95))} s |"
            )
            if configured_s:
                # A finite run's service times average a little off the configured mean, and near ρ = 1
                # Erlang C's wait is steep in ρ: the designed load's value is shown beside the measured one's.
                lines.append(
                    f"| Erlang C for {pipeline} at the configured service (μ = {1 / configured_s:.2f}/s, "
                    f"ρ = {rate * configured_s / slots:.2f}): Wq | {fmt(configured_wq)} s |"
                )
    services_all = [r.service_s for r in done if r.service_s is not None]
    if services_all:
        configured = ", ".join(f"{p} {fmt(s, 2, ' s')}" for p, s in m.configured_service_s.items())
        lines.append(
            f"| runner service time, measured mean (configured mean) | {fmt(statistics.fmean(services_all), 3, ' s')} ({configured}) |"
        )
    retries = sum(r.no_capacity_attempts for r in records)
    lines.append(f"| stage attempts answered 503 insufficient capacity (retried) | {retries} |")
    if makespan:
        lines.append(f"| stages per second sustained (succeeded ÷ makespan) | {fmt(len(done) / makespan)} |")
    walls = [(r.finished_at - r.created_at) - r.service_s for r in done if r.finished_at and r.service_s is not None]
    before = [r.runner_start - r.created_at for r in done if r.runner_start is not None]
    after = [r.finished_at - r.runner_end for r in done if r.finished_at and r.runner_end is not None]
    pickup = [r.runner_start - r.started_at for r in done if r.runner_start is not None and r.started_at]
    for name, values in (
        ("gateway overhead per stage = job wall time − runner service time", walls),
        ("of which before the runner (acceptance → runner start)", before),
        ("of which after the runner (runner end → job finished)", after),
        ("engine pickup → runner start (the driver's own dispatch)", pickup),
    ):
        if values:
            lines.append(
                f"| {name}: p50 / p99 | {fmt(percentile(values, 0.5), 3)} / {fmt(percentile(values, 0.99), 3)} s |"
            )
    stages = len(done)
    for group, seconds in m.cpu_s.items():
        per = seconds / stages if stages else None
        lines.append(f"| CPU seconds, {group}: total / per succeeded stage | {fmt(seconds, 1)} / {fmt(per, 3)} s |")
    product_cpu = None
    if stages and all(group in m.cpu_s for group in PRODUCT_GROUPS):
        product_cpu = sum(m.cpu_s[group] for group in PRODUCT_GROUPS) / stages
        lines.append(
            f"| CPU per stage of the gateway and node (engine + web + node) | {fmt(product_cpu, 3)} s: with nothing "
            f"else running, {m.cores} cores would carry at most {fmt(m.cores / product_cpu, 0)} stages/s "
            "(projection from the CPU per stage, not measured at that rate) |"
        )
    if m.db_statements is None:
        lines.append("| DB statements per waiting job per second | n/a for this engine (no stats file) |")
    else:
        waiting_job_s = sum(max(0.0, w) for w in waits)
        per_stage = m.db_statements / stages if stages else None
        lines.append(
            f"| DB statements, engine processes: total / per succeeded stage | {m.db_statements} / {fmt(per_stage, 1)} |"
        )
        if waiting_job_s >= MIN_WAITING_JOB_S:
            lines.append(
                f"| DB statements per waiting job per second (engine's statements ÷ Σ waits) | "
                f"{fmt(m.db_statements / waiting_job_s)} ({fmt(waiting_job_s, 1)} job·s waiting) |"
            )
        else:
            # The statements are then nearly all the running stages' own: dividing them by a few
            # job·s of waiting says nothing about what a waiting job costs.
            lines.append(
                f"| DB statements per waiting job per second | n/a: jobs waited {fmt(waiting_job_s, 1)} job·s in all |"
            )
    lines.append("")
    lines += [f"- {note}" for note in m.notes]
    if m.notes:
        lines.append("")
    overall_util = None
    if utilisations:
        busy_total = sum(busy_in(m.intervals[p], start, end) for p in utilisations)
        slot_total = sum(m.slots[p] for p in utilisations) * (end - start)
        overall_util = busy_total / slot_total if slot_total else None
    summary = Summary(
        key=m.key,
        jobs=len(records),
        succeeded=len(done),
        makespan_s=makespan,
        ideal_s=m.ideal_makespan_s,
        utilisation=overall_util,
        waited_utilisation=waited_busy / waited_slot_s if waited_slot_s else None,
        seen_share=either / len(records) if records and m.polled else None,
        mean_wait_s=summary_wait,
        erlang_wait_s=erlang_wait,
        erlang_configured_wait_s=erlang_configured,
        overhead_p50_s=percentile(walls, 0.5) if walls else None,
        overhead_p99_s=percentile(walls, 0.99) if walls else None,
        product_cpu_per_stage_s=product_cpu,
        cores=m.cores,
    )
    return summary, lines


def summary_table(summaries: list[Summary]) -> list[str]:
    lines = [
        "| scenario | jobs (succeeded) | makespan (ideal) | slot utilisation: busy period / while jobs waited | "
        "position or running within 1 s | mean wait (Erlang C Wq: measured / configured service) | "
        "overhead per stage p50 / p99 | gateway + node CPU per stage (stages/s it leaves room for) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        ideal = f" ({fmt(s.ideal_s, 1, ' s')})" if s.ideal_s is not None else ""
        erlang = ""
        if s.erlang_wait_s is not None:
            erlang = f" ({fmt(s.erlang_wait_s, 2, ' s')} / {fmt(s.erlang_configured_wait_s, 2, ' s')})"
        utilisation = fmt(100 * s.utilisation if s.utilisation is not None else None, 1, " %")
        waited = fmt(100 * s.waited_utilisation if s.waited_utilisation is not None else None, 1, " %")
        seen = "not asked" if s.seen_share is None else f"{100 * s.seen_share:.0f} %"
        ceiling = ""
        if s.product_cpu_per_stage_s:
            ceiling = f" ({fmt(s.cores / s.product_cpu_per_stage_s, 0)} on {s.cores} cores)"
        overhead = f"{fmt(1000 * s.overhead_p50_s if s.overhead_p50_s is not None else None, 0)} / "
        overhead += f"{fmt(1000 * s.overhead_p99_s if s.overhead_p99_s is not None else None, 0)} ms"
        lines.append(
            f"| {s.key} | {s.jobs} ({s.succeeded}) | {fmt(s.makespan_s, 1, ' s')}{ideal} | {utilisation} / {waited} | "
            f"{seen} | {fmt(s.mean_wait_s, 2, ' s')}{erlang} | {overhead} | "
            f"{fmt(s.product_cpu_per_stage_s, 3, ' s')}{ceiling} |"
        )
    return lines


def header(
    engine: str, database: str, command: str, settings: dict[str, Any], when: str, cores: int | None
) -> list[str]:
    engine_words = (
        "today's Celery engine (`celery -A livepeer_ai worker --pool threads --concurrency 4` per worker process, "
        "a task per job that sleeps `QUEUE_POLL_MS` between tries while it waits for capacity)"
        if engine == "celery"
        else "the queue-as-data engine (`manage.py run_engine` per worker process)"
    )
    return [
        "# Job engine under load",
        "",
        f"Measured {when} UTC on this machine ({cores} CPU cores shared by every process below) with",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Engine: {engine_words}. Database: {database}. Redis: a private `redis-server`.",
        "",
        "What runs, all real processes on loopback: the web process (`daphne livepeer_ai.asgi:application`) taking "
        "public-API jobs (`POST /api/v1/<pipeline>`, `Prefer: respond-async`); the engine's processes driving them; "
        "orchestrator nodes (`manage.py run_orchestrator`, off chain, each with its own key) selling external runners; "
        "and one stand-in runner process (`bench/standin_runner.py`) serving every runner slot on its own port with the "
        "runner API (health, SSE progress, results with real PNG/GIF/MP4 data URLs that the nodes sign receipts over) "
        "and a configured service time instead of GPU work. Each slot records when it was busy; utilisation and each "
        "job's start on a runner come from those records, matched to jobs by seed; acceptance, start and finish times "
        "from the job rows. Wait = acceptance (the job row's creation) → the stage's start on a runner.",
        "",
        "Settings as the demo runs them: " + ", ".join(f"`{k}={v}`" for k, v in settings.items()) + ".",
        "",
    ]
