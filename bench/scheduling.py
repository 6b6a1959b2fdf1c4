"""Scheduling simulation: the same arrivals under three policies, written as Markdown.

    .venv/bin/python -m bench.scheduling --output docs/benchmarks/scheduling.md

- `livepeer-2024`: the AI subnet's 2024 gateway: orchestrators ordered by latency score
  regardless of load; a busy one answers "insufficient capacity" and the next is tried;
  after cycling the list 4 times (docs/protocol.md §2.5: new tries only within 2 s) the job fails.
- `ours`: the gateway's own slot filling (`selection.fill_slots`, as `gateway/queue.py`
  dispatches) over a FIFO queue; a job that finds nothing free waits, up to the maximum wait.
  A projection: a model of the queue, not the engine as it runs (that is `bench/engine_load.py`).
- `M/M/c`: Erlang C for the same capacity and mean load, the ideal a single shared
  queue with exponential times would reach.

A discrete-event simulation in virtual time: each orchestrator has one slot per
pipeline (go-livepeer's default of one container per GPU) and its own speed.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.erlang import erlang_c
from livepeer_ai.gateway.selection import Candidate, fill_slots

HOUR_S = 3600.0
# The 2024 GIF competition's order of magnitude (issue 3): jobs per hour.
ARRIVALS = {"text-to-image": 170, "image-to-video": 120}
LEGACY_CYCLES = 4
LEGACY_WINDOW_S = 2.0
MAX_WAIT_S = 600.0


@dataclass
class Node:
    key: str
    # Seconds one image-to-video job takes on this node's GPU (23-60 s); text-to-image
    # takes ~1 s scaled by the same GPU speed.
    i2v_s: float
    busy_until: dict[str, float] = field(default_factory=dict)
    measured: dict[str, list[float]] = field(default_factory=dict)
    busy_s: dict[str, float] = field(default_factory=dict)

    def service_s(self, pipeline: str, rng: random.Random) -> float:
        base = self.i2v_s if pipeline == "image-to-video" else self.i2v_s / 41.5
        return base * rng.uniform(0.9, 1.1)


def make_nodes(count: int, seed: int) -> list[Node]:
    rng = random.Random(seed)
    return [Node(key=f"o{i}", i2v_s=rng.uniform(23.0, 60.0)) for i in range(count)]


def make_arrivals(seed: int, load: float = 1.0) -> list[tuple[float, str]]:
    """One hour of arrivals, Poisson with three bursts at three times the base rate; `load` scales it."""
    rng = random.Random(seed)
    bursts = [(600.0, 900.0), (1800.0, 2100.0), (3000.0, 3300.0)]
    burst_s = sum(end - start for start, end in bursts)
    arrivals = []
    for pipeline, per_hour in ARRIVALS.items():
        # Base rate chosen so the hour still averages `per_hour` jobs.
        base = load * per_hour / (HOUR_S + 2 * burst_s)
        t = 0.0
        while True:
            t += rng.expovariate(3 * base)
            if t >= HOUR_S:
                break
            in_burst = any(start <= t < end for start, end in bursts)
            if in_burst or rng.random() < 1 / 3:  # thinning down to the base rate
                arrivals.append((t, pipeline))
    return sorted(arrivals)


@dataclass
class Outcome:
    waits: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


def simulate_legacy(nodes: list[Node], arrivals: list[tuple[float, str]], seed: int) -> Outcome:
    rng = random.Random(seed)
    outcome = Outcome()
    # Ordered by latency score, measured once; load is not looked at.
    order = sorted(nodes, key=lambda n: n.i2v_s)
    tries_per_cycle_s = LEGACY_WINDOW_S / LEGACY_CYCLES
    for arrival, pipeline in arrivals:
        placed = False
        for cycle in range(LEGACY_CYCLES):
            now = arrival + cycle * tries_per_cycle_s
            for node in order:
                if node.busy_until.get(pipeline, 0.0) <= now:
                    took = node.service_s(pipeline, rng)
                    node.busy_until[pipeline] = now + took
                    node.busy_s[pipeline] = node.busy_s.get(pipeline, 0.0) + took
                    outcome.waits.setdefault(pipeline, []).append(now - arrival)
                    placed = True
                    break
            if placed:
                break
        if not placed:
            outcome.failed[pipeline] = outcome.failed.get(pipeline, 0) + 1
    return outcome


def candidates(nodes: list[Node], pipeline: str, now: float) -> list[Candidate]:
    return [
        Candidate(
            key=node.key,
            warm=True,
            capacity=1,
            in_use=int(node.busy_until.get(pipeline, 0.0) > now),
            latency_score=statistics.fmean(node.measured[pipeline]) if node.measured.get(pipeline) else None,
        )
        for node in nodes
    ]


def simulate_ours(nodes: list[Node], arrivals: list[tuple[float, str]], seed: int) -> Outcome:
    """Event-driven: arrivals and completions; a free slot takes the head of its queue."""
    rng = random.Random(seed)
    outcome = Outcome()
    by_key = {node.key: node for node in nodes}
    queues: dict[str, deque[float]] = {pipeline: deque() for pipeline in ARRIVALS}
    events: list[tuple[float, int, str, str]] = []  # (time, order, kind, pipeline)
    for index, (t, pipeline) in enumerate(arrivals):
        heapq.heappush(events, (t, index, "arrival", pipeline))
    order = len(arrivals)

    def dispatch(pipeline: str, now: float) -> None:
        nonlocal order
        queue = queues[pipeline]
        while queue:
            # Jobs past the maximum wait leave the queue as failures.
            if now - queue[0] > MAX_WAIT_S:
                queue.popleft()
                outcome.failed[pipeline] = outcome.failed.get(pipeline, 0) + 1
                continue
            placed = fill_slots([queue[0]], candidates(nodes, pipeline, now), None, lambda _: set(), 1, rng)
            if not placed:
                return
            node = by_key[placed[0][1].key]
            arrival = queue.popleft()
            took = node.service_s(pipeline, rng)
            node.busy_until[pipeline] = now + took
            node.busy_s[pipeline] = node.busy_s.get(pipeline, 0.0) + took
            node.measured.setdefault(pipeline, []).append(took)
            outcome.waits.setdefault(pipeline, []).append(now - arrival)
            order += 1
            heapq.heappush(events, (now + took, order, "done", pipeline))

    while events:
        now, _, kind, pipeline = heapq.heappop(events)
        if kind == "arrival":
            queues[pipeline].append(now)
        dispatch(pipeline, now)
    for pipeline, queue in queues.items():
        outcome.failed[pipeline] = outcome.failed.get(pipeline, 0) + len(queue)
    return outcome


def mmc(nodes: list[Node], pipeline: str, load: float) -> dict[str, float]:
    rate = load * ARRIVALS[pipeline] / HOUR_S
    mean_service = statistics.fmean(n.i2v_s if pipeline == "image-to-video" else n.i2v_s / 41.5 for n in nodes)
    servers = len(nodes)
    offered = rate * mean_service
    waits = erlang_c(servers, offered)
    drain = servers / mean_service - rate
    mean_wait = waits / drain if drain > 0 else math.inf
    p95 = max(0.0, math.log(waits / 0.05) / drain) if drain > 0 and waits > 0.05 else 0.0
    # success is NaN when the queue is unstable (offered load above capacity): it grows without bound.
    return {
        "success": 1.0 if drain > 0 else math.nan,
        "mean_wait": mean_wait,
        "p95_wait": p95 if drain > 0 else math.inf,
        "utilisation": offered / servers,
    }


def summarise(outcome: Outcome, nodes: list[Node], pipeline: str, arrivals: int) -> dict[str, float]:
    waits = outcome.waits.get(pipeline, [])
    busy = sum(n.busy_s.get(pipeline, 0.0) for n in nodes)
    # Jobs accepted late in the hour finish after it: utilisation is over the whole span.
    span = max([HOUR_S, *(n.busy_until.get(pipeline, 0.0) for n in nodes)])
    return {
        "success": len(waits) / arrivals if arrivals else 1.0,
        "mean_wait": statistics.fmean(waits) if waits else 0.0,
        "p95_wait": sorted(waits)[min(len(waits) - 1, round(0.95 * (len(waits) - 1)))] if waits else 0.0,
        "utilisation": busy / (len(nodes) * span),
    }


Row = tuple[float, int, str, str, dict[str, float]]


def run(node_counts: list[int], loads: list[float], seed: int) -> list[Row]:
    rows: list[Row] = []
    for load in loads:
        arrivals = make_arrivals(seed, load)
        counts = {p: sum(1 for _, q in arrivals if q == p) for p in ARRIVALS}
        for count in node_counts:
            legacy_nodes, our_nodes = make_nodes(count, seed), make_nodes(count, seed)
            legacy = simulate_legacy(legacy_nodes, arrivals, seed)
            ours = simulate_ours(our_nodes, arrivals, seed)
            for pipeline in ARRIVALS:
                rows.append(
                    (
                        load,
                        count,
                        pipeline,
                        "livepeer-2024",
                        summarise(legacy, legacy_nodes, pipeline, counts[pipeline]),
                    )
                )
                rows.append((load, count, pipeline, "ours", summarise(ours, our_nodes, pipeline, counts[pipeline])))
                rows.append((load, count, pipeline, "M/M/c (Erlang C)", mmc(our_nodes, pipeline, load)))
    return rows


def render(rows: list[Row], seed: int, command: str) -> str:
    arrivals = make_arrivals(seed)  # the 1x hour, for the counts quoted below
    lines = [
        "# Scheduling simulation",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}` (seed {seed}).",
        "",
        f"One hour of arrivals like the 2024 GIF competition: {sum(1 for _, p in arrivals if p == 'text-to-image')} "
        f"text-to-image and {sum(1 for _, p in arrivals if p == 'image-to-video')} image-to-video jobs, Poisson "
        "with three 5-minute bursts at 3x the base rate. Each orchestrator has one slot per pipeline and its own "
        "GPU speed: image-to-video 23-60 s (uniform across nodes, ±10 % per job), text-to-image ~1 s scaled alike. "
        "A projection, not a measurement: a model of the queue in virtual time (the engine as it runs is "
        "measured in `engine.md`). `ours` fills free slots with the gateway's own `selection.fill_slots`, "
        "as its dispatch does (maximum wait "
        f"{MAX_WAIT_S:.0f} s); `livepeer-2024` orders nodes by latency score regardless of load and fails a job "
        f"after cycling the list {LEGACY_CYCLES} times within {LEGACY_WINDOW_S:.0f} s; M/M/c is Erlang C at the "
        "same mean load and capacity (no bursts, exponential service), for reference. Load 1x is the "
        "competition; 3x and 6x show where the policies part (the subnet's April 2024 load test, which "
        "failed 69 % of image-to-video jobs, was of that kind).",
        "",
        "| load | orchestrators | pipeline | policy | success | mean wait (s) | p95 wait (s) | utilisation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for load, count, pipeline, policy, m in rows:
        if math.isnan(m["success"]):
            lines.append(
                f"| {load:g}x | {count} | {pipeline} | {policy} | unstable | ∞ | ∞ | {m['utilisation']:.0%} offered |"
            )
            continue
        lines.append(
            f"| {load:g}x | {count} | {pipeline} | {policy} | {m['success']:.1%} | {m['mean_wait']:.1f} | "
            f"{m['p95_wait']:.1f} | {m['utilisation']:.1%} |"
        )
    lines += [
        "",
        "The gateway's own overhead per stage, measured on the engine as it runs (real web, engine and node processes, stand-in runners), is in `docs/benchmarks/engine.md` (the overhead runs).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default="docs/benchmarks/scheduling.md")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--nodes", default="6,10,15")
    parser.add_argument("--loads", default="1,3,6")
    args = parser.parse_args()
    rows = run([int(n) for n in args.nodes.split(",")], [float(x) for x in args.loads.split(",")], args.seed)
    command = f"make bench  (python -m bench.scheduling --seed {args.seed} --nodes {args.nodes} --loads {args.loads})"
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(render(rows, args.seed, command))
    print(Path(args.output).read_text())


if __name__ == "__main__":
    main()
