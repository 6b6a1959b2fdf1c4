"""The job engine under load, as it runs: real processes, stand-in runners instead of GPU work.

    .venv/bin/python -m bench.engine_load --output docs/benchmarks/engine.md
    .venv/bin/python -m bench.engine_load --scenarios burst --workers 1,4
    .venv/bin/python -m bench.engine_load --quick

Scenarios (run in this order by default, each a section of the report):

- burst: `--jobs` (50) text-to-image jobs at once on `--burst-slots` (2) slots of 1 s and 10
  steps, once per `--workers` value (1,4): makespan against jobs × service / slots,
  utilisation, how many jobs show a queue position within a second;
- saturation: `--nodes` (10) nodes of 1–2 text-to-image slots, Poisson arrivals at
  each `--rho` (0.9,1.1) of their capacity for `--sat-seconds` (180), exponential service
  (`--sat-service`, mean 6 s): below capacity, waits beside Erlang C's for the same
  c, λ, μ; above it, how busy the slots stay while jobs wait;
- mix: the 2024 GIF competition's arrivals (170 text-to-image and 120 image-to-video
  jobs an hour) with service times (~1 s and 23–60 s) and time itself compressed by
  `--scale` (0.1), times `--mix-load` (1);
- overhead: near-instant jobs (0.05 s, 1 step) at a steady rate, once per
  `--overhead-rates` value (2,5,10 a second) for `--overhead-seconds` (30): gateway
  overhead per stage (job wall time − runner service time) with no queueing, CPU
  seconds per stage of each process, and the rate those leave room for on this machine;
- streams: `--streams` (500) text-to-image jobs at once on as many slots over
  `--streams-nodes` (5) nodes, service `--streams-service` (60 s) and 10 steps, one
  engine process: the most stages it streamed at once, and its threads and memory then;
- depth: 100 and 10,000 jobs waiting behind two held slots (`bench/queue_depth.py`):
  the engine's DB statements per second, threads and memory, and positions as asked.

The engine is `manage.py run_engine`, `--workers` processes, each writing `--stats-file`
JSON `{"db_statements", "stages_finished"}`. The figures of the engine it replaced (a
Celery task per job) are kept in `docs/benchmarks/engine-celery-before.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import stack
from bench.engine_report import Measured, Summary, header, summarise, summary_table
from bench.load import ApiLoad, Arrivals, Offered, job_records, wait_until_finished
from bench.queue_depth import run_depth
from bench.stack import FAMILIES, HTTP, MODELS, NodeSpec, Process, Processes

HOUR_S = 3600.0
# The 2024 GIF competition's order of magnitude (bench/scheduling.py ARRIVALS): jobs per hour.
COMPETITION_PER_HOUR = {"text-to-image": 170, "image-to-video": 120}
# Its service times: image-to-video 23–60 s depending on the GPU, text-to-image about 1 s.
COMPETITION_SERVICE_S = {"text-to-image": (0.8, 1.2), "image-to-video": (23.0, 60.0)}
SCENARIOS = ("burst", "saturation", "mix", "overhead", "streams", "depth")
# The demo's gateway settings (settings.py defaults; the demo sets none of them).
DEMO_SETTINGS = {"ORCHESTRATOR_INFO_TTL_S": "5", "QUEUE_POLL_MS": "500"}
# Teardown steps that are not processes (dropping the PostgreSQL database), run last.
processes_drop: list[Callable[[], None]] = []


@dataclass
class Scenario:
    key: str
    title: str
    description: str
    nodes: list[NodeSpec]
    workers: int
    service: str
    configured_mean_s: dict[str, float]
    steps: dict[str, int]
    arrivals: Arrivals
    arrival_span_s: float
    drain_s: float
    jitter: float = 0.0
    ideal_makespan_s: float | None = None
    notes: list[str] = field(default_factory=list)
    # The harness asks each job's state 3 times in its first second (positions); off where it would
    # load the web process whose cost per stage is what is measured.
    first_second_polls: bool = True
    # Nodes started just before this scenario and stopped after it (not part of the long-lived network).
    own_nodes: bool = False


@dataclass
class Network:
    """The long-lived part: stand-in slots, nodes, web, DB and Redis, shared by every scenario."""

    processes: Processes
    workdir: Path
    env: dict[str, str]
    standin_url: str
    web_url: str
    api_key: str
    redis_url: str
    database_label: str
    nodes: dict[str, Process] = field(default_factory=dict)


def build_nodes(
    args: argparse.Namespace, first_port: int
) -> tuple[NodeSpec | None, list[NodeSpec], list[NodeSpec], list[str]]:
    """The burst node, the fleet and the streams nodes, with the stand-in port → pipeline list in port order."""
    port = first_port
    pipelines: list[str] = []

    def take(pipeline: str, count: int) -> list[str]:
        nonlocal port
        urls = [f"http://127.0.0.1:{p}" for p in range(port, port + count)]
        pipelines.extend([pipeline] * count)
        port += count
        return urls

    burst = None
    if {"burst", "depth"} & set(args.scenarios):
        burst = NodeSpec("bench-burst", stack.free_port(), {"text-to-image": take("text-to-image", args.burst_slots)})
    fleet = []
    # The fleet carries saturation, the mix and overhead; burst, depth and streams have nodes of their own.
    if set(args.scenarios) - {"burst", "depth", "streams"}:
        pattern = [int(s) for s in args.slots.split(",")]
        for index in range(args.nodes):
            runners = {
                "text-to-image": take("text-to-image", pattern[index % len(pattern)]),
                "image-to-video": take("image-to-video", 1),
            }
            fleet.append(NodeSpec(f"bench-node-{index}", stack.free_port(), runners))
    streams = []
    if "streams" in args.scenarios:
        per_node, extra = divmod(args.streams, args.streams_nodes)
        for index in range(args.streams_nodes):
            runners = {"text-to-image": take("text-to-image", per_node + (1 if index < extra else 0))}
            streams.append(NodeSpec(f"bench-streams-{index}", stack.free_port(), runners))
    return burst, fleet, streams, pipelines


def slots_of(nodes: list[NodeSpec], pipeline: str) -> int:
    return sum(len(node.runners.get(pipeline, [])) for node in nodes)


def streams_scenario(args: argparse.Namespace, streams: list[NodeSpec]) -> list[Scenario]:
    """Last of the scenarios, on nodes started for it alone: five nodes supervising 500 idle slots
    load two cores enough to move every other scenario's figures."""
    if not streams:
        return []
    return [
        Scenario(
            key=f"streams, {args.streams} at once",
            title=f"Streams: {args.streams} text-to-image jobs at once on {args.streams} slots, one engine process",
            description=(
                f"{args.streams} jobs offered in the same instant to {len(streams)} nodes with "
                f"{args.streams} stand-in slots in all, each job {args.streams_service:g} s and 10 steps: every "
                "stage can start at once, so one engine process streams as many stages as the web process "
                "accepts jobs in that time. The harness does not poll jobs in their first second; the nodes "
                "run only for this scenario."
            ),
            nodes=streams,
            workers=1,
            service=f"text-to-image={args.streams_service}",
            configured_mean_s={"text-to-image": args.streams_service},
            steps={"text-to-image": 10, "image-to-video": 10},
            arrivals=Arrivals.burst(args.streams),
            arrival_span_s=0.0,
            drain_s=args.streams_service + 120.0,
            first_second_polls=False,
            own_nodes=True,
        )
    ]


def scenarios(
    args: argparse.Namespace, burst: NodeSpec | None, fleet: list[NodeSpec], streams: list[NodeSpec]
) -> list[Scenario]:
    rng = random.Random(args.seed)
    chosen: list[Scenario] = []
    if burst is not None:
        slots = args.burst_slots
        for workers in args.workers:
            chosen.append(
                Scenario(
                    key=f"burst, {workers} worker{'s' if workers > 1 else ''}",
                    title=f"Burst: {args.jobs} text-to-image jobs at once on {slots} slots, {workers} engine process(es)",
                    description=(
                        f"{args.jobs} jobs offered in the same instant; one node with {slots} stand-in slots of "
                        f"{args.burst_service:g} s and 10 steps each."
                    ),
                    nodes=[burst],
                    workers=workers,
                    service=f"text-to-image={args.burst_service}",
                    configured_mean_s={"text-to-image": args.burst_service},
                    steps={"text-to-image": 10, "image-to-video": 10},
                    arrivals=Arrivals.burst(args.jobs),
                    arrival_span_s=0.0,
                    # Long enough for today's engine to finish every job (it took 5× the ideal here).
                    drain_s=max(60.0, 8 * args.jobs * args.burst_service / slots),
                    ideal_makespan_s=args.jobs * args.burst_service / slots,
                )
            )
    if not fleet:
        return chosen + streams_scenario(args, streams)
    t2i_slots, i2v_slots = slots_of(fleet, "text-to-image"), slots_of(fleet, "image-to-video")
    for rho in args.rhos if "saturation" in args.scenarios else []:
        rate = rho * t2i_slots / args.sat_service
        chosen.append(
            Scenario(
                key=f"saturation, ρ = {rho:g}",
                title=f"Saturation: Poisson arrivals at ρ = {rho:g} on {t2i_slots} slots over {len(fleet)} nodes",
                description=(
                    f"Text-to-image jobs arriving as a Poisson process at {rate:.2f}/s for {args.sat_seconds:g} s "
                    f"({rho:g} × {t2i_slots} slots ÷ {args.sat_service:g} s), exponential service of mean "
                    f"{args.sat_service:g} s (so M/M/c's Erlang C applies while ρ < 1), 10 steps. After the arrivals the engine "
                    f"has {args.drain:g} s to finish; jobs still waiting then are canceled and counted."
                ),
                nodes=fleet,
                workers=args.fleet_workers,
                service=f"text-to-image=exp:{args.sat_service}",
                configured_mean_s={"text-to-image": args.sat_service},
                steps={"text-to-image": 10, "image-to-video": 10},
                arrivals=Arrivals.poisson({"text-to-image": rate}, args.sat_seconds, rng),
                arrival_span_s=args.sat_seconds,
                drain_s=args.drain,
            )
        )
    if "mix" in args.scenarios:
        rates = {p: args.mix_load * n / HOUR_S / args.scale for p, n in COMPETITION_PER_HOUR.items()}
        low_t, high_t = (s * args.scale for s in COMPETITION_SERVICE_S["text-to-image"])
        low_v, high_v = (s * args.scale for s in COMPETITION_SERVICE_S["image-to-video"])
        chosen.append(
            Scenario(
                key="competition mix",
                title=f"Competition mix at {args.mix_load:g}× the 2024 load, time scaled by {args.scale:g}",
                description=(
                    f"Assumed load: the 2024 GIF competition's order of magnitude, {COMPETITION_PER_HOUR['text-to-image']} "
                    f"text-to-image and {COMPETITION_PER_HOUR['image-to-video']} image-to-video jobs an hour "
                    f"(`bench/scheduling.py`), × {args.mix_load:g}, as independent public-API jobs. "
                    f"Service times (text-to-image 0.8–1.2 s, image-to-video 23–60 s, uniform) and time itself are "
                    f"scaled by {args.scale:g}, so arrivals are {rates['text-to-image']:.2f}/s and "
                    f"{rates['image-to-video']:.2f}/s for {args.seconds:g} s (= {args.seconds / args.scale / 60:.0f} "
                    f"competition minutes) on {t2i_slots} text-to-image and {i2v_slots} image-to-video slots; "
                    "6 and 12 steps, the studio's defaults."
                ),
                nodes=fleet,
                workers=args.fleet_workers,
                service=f"text-to-image={low_t}:{high_t},image-to-video={low_v}:{high_v}",
                configured_mean_s={"text-to-image": (low_t + high_t) / 2, "image-to-video": (low_v + high_v) / 2},
                steps={"text-to-image": 6, "image-to-video": 12},
                arrivals=Arrivals.poisson(rates, args.seconds, rng),
                arrival_span_s=args.seconds,
                drain_s=args.drain,
                notes=[
                    "Erlang C rows use the uniform service's measured mean; M/M/c assumes exponential service, "
                    "so it overstates the waits of this lower-variance service somewhat."
                ],
            )
        )
    for rate in args.overhead_rates if "overhead" in args.scenarios else []:
        chosen.append(
            Scenario(
                key=f"overhead, {rate:g} stages/s",
                title=f"Overhead: near-instant jobs at a steady {rate:g} per second on {t2i_slots} slots",
                description=(
                    f"One text-to-image job every {1 / rate:.3g} s for {args.overhead_seconds:g} s; stand-in service "
                    "0.05 s and 1 step, so what is left of each job's time is the stack's: API, engine, selection, "
                    "node, payment, receipts, storage. Far below the slots' capacity, so no stage waits for a slot; "
                    "the harness does not poll jobs in their first second (it would load the web process measured)."
                ),
                nodes=fleet,
                workers=args.fleet_workers,
                service="text-to-image=0.05",
                configured_mean_s={"text-to-image": 0.05},
                steps={"text-to-image": 1, "image-to-video": 1},
                arrivals=Arrivals.steady(rate, args.overhead_seconds),
                arrival_span_s=0.0,
                drain_s=60.0,
                first_second_polls=False,
            )
        )
    return chosen + streams_scenario(args, streams)


def start_network(
    args: argparse.Namespace, processes: Processes, workdir: Path
) -> tuple[Network, NodeSpec | None, list[NodeSpec], list[NodeSpec]]:
    redis_url = stack.start_redis(processes, workdir)
    database = stack.create_database(workdir, args.db)
    processes_drop.append(database.drop)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "livepeer_ai.settings",
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_url,
        "LIVEPEER_VAR_DIR": str(workdir / "var"),
        "DEFAULT_MODELS": ",".join(f"{p}={m}" for p, m in MODELS.items()),
        "PYTHONUNBUFFERED": "1",
        **DEMO_SETTINGS,
    }
    env.pop("WEB3_PROVIDER_URI", None)
    migrate = stack.subprocess.run(
        [stack.PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=stack.ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if migrate.returncode:
        raise RuntimeError(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
    # This process reads the job rows and writes the registry and key: same database, same settings.
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "LIVEPEER_VAR_DIR")})
    import logging

    import django

    django.setup()
    # settings.LOGGING puts this process's httpx requests at INFO: thousands of polls would drown the report.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.db import connection

    from livepeer_ai.gateway.models import ApiKey
    from livepeer_ai.registry import curation
    from livepeer_ai.registry.models import EntryStatus

    for pipeline, model in MODELS.items():
        fields = {"pipeline": pipeline, "model_id": model, "family": FAMILIES[pipeline], "max_side": 1024}
        curation.register(fields, status=EntryStatus.APPROVED)
    _key, api_key = ApiKey.issue("engine bench")
    connection.close()

    burst, fleet, streams, pipelines = build_nodes(args, 0)
    first = stack.free_port_block(len(pipelines))
    burst, fleet, streams, pipelines = build_nodes(args, first)
    standin_args = [stack.PYTHON, "-m", "bench.standin_runner", "--ports", f"{first}-{first + len(pipelines) - 1}"]
    processes.start("standin", [*standin_args, "--pipelines", ",".join(pipelines), "--seed", str(args.seed)], env)
    standin_url = f"http://127.0.0.1:{first}"
    stack.wait_for(lambda: HTTP.get(f"{standin_url}/health", timeout=2).status_code == 200, 30, "stand-in runners")
    all_nodes = ([burst] if burst else []) + fleet
    env["ORCHESTRATOR_URLS"] = ",".join(node.url for node in all_nodes + streams)
    # The web process first: started beside eleven nodes on two busy cores it can take minutes to answer.
    web_url = stack.start_web(processes, env)
    network = Network(processes, workdir, env, standin_url, web_url, api_key, redis_url, database.label)
    start_nodes(network, all_nodes)
    return network, burst, fleet, streams


def start_nodes(network: Network, nodes: list[NodeSpec]) -> list[Process]:
    started = {node.name: stack.start_node(network.processes, node, network.env, network.workdir) for node in nodes}
    for node in nodes:
        process = started[node.name]
        stack.wait_for(
            lambda n=node, p=process: p.alive() and stack.node_ready(n), 300, f"{node.name}\n{process.log_tail()}"
        )
    network.nodes.update(started)
    return list(started.values())


def run_scenario(args: argparse.Namespace, network: Network, scenario: Scenario, seed_base: int) -> Measured:
    import redis

    print(f"--- {scenario.key}", flush=True)
    HTTP.post(
        f"{network.standin_url}/configure", json={"service": scenario.service, "jitter": scenario.jitter}, timeout=10
    ).raise_for_status()
    redis.Redis.from_url(network.redis_url).flushdb()
    env = {**network.env, "ORCHESTRATOR_URLS": ",".join(node.url for node in scenario.nodes)}
    engines: list[Process] = []
    stats_files = []
    for index in range(scenario.workers):
        stats_file = network.workdir / f"engine-stats-{seed_base}-{index}.json"
        stats_files.append(stats_file)
        command = stack.engine_command(args.engine, index, stats_file)
        engines.append(network.processes.start(f"engine-{seed_base}-{index}", command, env))
    try:
        for process, stats_file in zip(engines, stats_files, strict=True):
            stack.wait_for(lambda p=process, s=stats_file: stack.engine_ready(p, s), 90, process.name)
        groups = {
            "engine processes": [p.popen.pid for p in engines],
            "web process": [p.popen.pid for p in network.processes.started if p.name == "web"],
            "node processes": [p.popen.pid for p in network.nodes.values()],
            "stand-in runner process": [p.popen.pid for p in network.processes.started if p.name == "standin"],
        }
        cpu_before = {group: stack.cpu_seconds(pids) for group, pids in groups.items()}
        machine_before, harness_before = stack.machine_busy_seconds(), stack.cpu_seconds([os.getpid()])
        stats_before = stack.read_stats(stats_files)
        load = ApiLoad(network.web_url, network.api_key, scenario.steps, seed_base, scenario.first_second_polls)
        with stack.PeakSampler([p.popen.pid for p in engines]) as engine_peak:
            offered: list[Offered] = asyncio.run(load.offer(scenario.arrivals))
            ids = [o.request_id for o in offered if o.request_id]
            left = wait_until_finished(ids, scenario.drain_s)
        cpu = {group: stack.cpu_seconds(pids) - cpu_before[group] for group, pids in groups.items()}
        cpu["harness (load generator)"] = stack.cpu_seconds([os.getpid()]) - harness_before
        # Other sessions may share the machine: what ran outside this benchmark is reported, not hidden.
        cpu["everything else on the machine"] = max(
            0.0, stack.machine_busy_seconds() - machine_before - sum(cpu.values())
        )
        stats_after = stack.read_stats(stats_files)
        if left:
            load.cancel(left)
            wait_until_finished(left, 30)
    finally:
        network.processes.stop(engines)
    busy = HTTP.get(f"{network.standin_url}/busy", timeout=30).json()
    load.read_final(offered)
    ports = {
        int(url.rsplit(":", 1)[1]): pipeline
        for node in scenario.nodes
        for pipeline, urls in node.runners.items()
        for url in urls
    }
    intervals: dict[str, list[tuple[float, float]]] = {}
    for slot in busy["slots"]:
        if slot["port"] in ports:
            pipeline = ports[slot["port"]]
            spans = [(i["start"], i["end"]) for i in slot["intervals"] if i["end"] is not None]
            intervals.setdefault(pipeline, []).extend(spans)
    used = {p for _, p in scenario.arrivals.schedule}
    records = job_records(offered, busy)
    db_statements = None
    if stats_before is not None and stats_after is not None:
        db_statements = stats_after["db_statements"] - stats_before["db_statements"]
    unfinished_via_api = [
        o for o in offered if o.request_id and o.final.get("status") not in {"succeeded", "failed", "canceled"}
    ]
    notes = list(scenario.notes)
    if unfinished_via_api:
        notes.append(f"{len(unfinished_via_api)} jobs had not finished by the end, as the API reports them.")
    return Measured(
        key=scenario.key,
        title=scenario.title,
        description=scenario.description,
        workers=scenario.workers,
        records=records,
        offered=len(offered),
        rejected=sum(1 for o in offered if o.status_code != 202),
        intervals={p: v for p, v in intervals.items() if p in used},
        slots={p: slots_of(scenario.nodes, p) for p in used},
        configured_service_s=scenario.configured_mean_s,
        arrival_span_s=scenario.arrival_span_s,
        canceled_at_deadline=len(left),
        cpu_s=cpu,
        db_statements=db_statements,
        ideal_makespan_s=scenario.ideal_makespan_s,
        notes=notes,
        polled=scenario.first_second_polls,
        cores=os.cpu_count() or 1,
        engine_threads=engine_peak.threads,
        engine_rss_bytes=engine_peak.rss_bytes,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["run_engine"], default="run_engine")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--workers", default="1,4", help="engine processes for the burst, one run per value")
    parser.add_argument("--fleet-workers", type=int, default=1, help="engine processes for the other scenarios")
    parser.add_argument("--jobs", type=int, default=50, help="burst size")
    parser.add_argument("--burst", type=int, dest="jobs", help="alias of --jobs")
    parser.add_argument("--burst-slots", type=int, default=2)
    parser.add_argument("--burst-service", type=float, default=1.0)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--slots", default="1,2", help="text-to-image slots per fleet node, repeating")
    parser.add_argument(
        "--rho",
        default="0.9,1.1",
        help="saturation loads as a share of capacity, one run each: below 1 for Erlang C, above for utilisation",
    )
    parser.add_argument("--rate", type=float, default=0.0, help="saturation arrivals per second (overrides --rho)")
    parser.add_argument("--seconds", type=float, default=60.0, help="arrival window of the mix")
    # 180 s: 30 mean service times, so most arrivals find the queue settled rather than filling.
    parser.add_argument("--sat-seconds", type=float, default=180.0, help="arrival window of each saturation run")
    # 6 s: at 2 s the arrivals (8/s) need more CPU than 2 cores have for the web process and the
    # load generator, and the engine is starved rather than measured.
    parser.add_argument("--sat-service", type=float, default=6.0, help="mean exponential service, seconds")
    parser.add_argument("--scale", type=float, default=0.1, help="competition mix: time compression")
    parser.add_argument("--mix-load", type=float, default=1.0)
    parser.add_argument(
        "--overhead-rates", default="2,5,10", help="steady arrivals per second of the overhead runs, one run each"
    )
    parser.add_argument("--overhead-seconds", type=float, default=30.0, help="arrival window of each overhead run")
    parser.add_argument("--streams", type=int, default=500, help="jobs (and slots) of the streams scenario")
    parser.add_argument(
        "--streams-nodes", type=int, default=5, help="nodes the streams scenario's slots are spread over"
    )
    parser.add_argument("--streams-service", type=float, default=60.0, help="each streams job's service, seconds")
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds after the arrivals before waiting jobs are canceled"
    )
    parser.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--quick", action="store_true", help="a 1–2 minute smoke run")
    parser.add_argument("--output", default="", help="Markdown report (e.g. docs/benchmarks/engine.md)")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.workers = [int(w) for w in str(args.workers).split(",")]
    if args.quick:
        quick = {
            "jobs": 10,
            "nodes": 3,
            "seconds": 15.0,
            "sat_seconds": 15.0,
            "overhead_seconds": 10.0,
            "drain": 30.0,
            "streams": 20,
            "streams_nodes": 2,
            "streams_service": 5.0,
        }
        for name, value in quick.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
        if args.burst_service == parser.get_default("burst_service"):
            args.burst_service = 0.5
        if args.workers == [1, 4]:
            args.workers = [1]
    if "streams" in args.scenarios and not 1 <= args.streams_nodes <= args.streams:
        # Each streams node needs a slot: a node without one is a node no job can go to.
        parser.error("--streams-nodes must be at least 1 and at most --streams")
    if args.rate:
        # --rate R means R arrivals per second at saturation: ρ follows from the fleet.
        pattern = [int(s) for s in args.slots.split(",")]
        slots = sum(pattern[i % len(pattern)] for i in range(args.nodes))
        args.rho = str(args.rate * args.sat_service / slots)
    args.rhos = [float(rho) for rho in str(args.rho).split(",") if rho]
    args.overhead_rates = [float(rate) for rate in str(args.overhead_rates).split(",") if rate]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench.engine_load " + shlex.join(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    (workdir / "logs").mkdir()
    processes = Processes(workdir / "logs")
    summaries: list[Summary] = []
    sections: list[str] = []
    database_label = ""
    try:
        with stack.running(processes):
            network, burst, fleet, streams = start_network(args, processes, workdir)
            database_label = network.database_label
            print(f"network up: {len(network.nodes)} nodes, web {network.web_url}, {database_label}", flush=True)
            for index, scenario in enumerate(scenarios(args, burst, fleet, streams)):
                own = start_nodes(network, scenario.nodes) if scenario.own_nodes else []
                try:
                    measured = run_scenario(args, network, scenario, seed_base=(index + 1) * 1_000_000)
                finally:
                    network.processes.stop(own)
                    for node in scenario.nodes if own else []:
                        network.nodes.pop(node.name, None)
                summary, lines = summarise(measured)
                summaries.append(summary)
                sections += lines
                print("\n".join(lines), flush=True)
            if "depth" in args.scenarios and burst is not None:
                counts = (20, 200) if args.quick else (100, 10_000)
                lines = run_depth(network, burst.url, counts, workdir / "engine-stats-depth.json")
                sections += lines
                print("\n".join(lines), flush=True)
            from django.db import connections

            connections.close_all()
    finally:
        for drop in processes_drop:
            try:
                drop()
            except Exception as exc:  # noqa: BLE001 - teardown reports, never masks the run's own error
                print(f"could not drop the benchmark database: {exc}", file=sys.stderr)
        print(f"logs: {workdir / 'logs'}", file=sys.stderr)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    report = header(args.engine, database_label, command, DEMO_SETTINGS, when, os.cpu_count())
    report += ["## Summary", "", *summary_table(summaries), "", "## Scenarios", "", *sections]
    text = "\n".join(report).rstrip("\n") + "\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
