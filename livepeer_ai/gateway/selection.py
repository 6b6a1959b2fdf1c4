"""Choosing an orchestrator for one stage: pure functions over what the gateway knows.

Rules (docs/protocol.md §2.5, minus the failures it describes): warm nodes before cold
ones; only nodes with free capacity; under the price cap; ranked by measured
latency per unit·step and recent success rate; a random pick among the best so
load spreads instead of piling onto one node; suspended nodes skipped.
Nothing here touches the DB or the network, so the scheduling simulation
(`bench/scheduling.py`) drives exactly this code.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

# Nodes whose score is within this factor of the best one share the load.
BEST_SCORE_SPREAD = 1.5
# At most this many of the best nodes are drawn from.
TOP_K = 3

Waiting = TypeVar("Waiting")


@dataclass(frozen=True)
class PriceCap:
    """Max price in wei per `pixels_per_unit` pixels (`-maxPricePerUnit` / `-pixelsPerUnit`)."""

    price_per_unit: int
    pixels_per_unit: int = 1

    def allows(self, price_per_unit: int, pixels_per_unit: int) -> bool:
        # price/pixels <= cap_price/cap_pixels, in integers.
        return price_per_unit * self.pixels_per_unit <= self.price_per_unit * pixels_per_unit


@dataclass(frozen=True)
class Candidate:
    key: str
    warm: bool
    capacity: int
    in_use: int
    price_per_unit: int = 0
    pixels_per_unit: int = 1
    # Seconds per unit·step over recent successful jobs; None when never measured.
    latency_score: float | None = None
    # Recent success rate in [0, 1], already smoothed for few samples.
    success_rate: float = 1.0
    suspended: bool = False

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.in_use)


def eligible(candidates: list[Candidate], price_cap: PriceCap | None, exclude: set[str]) -> list[Candidate]:
    return [
        c
        for c in candidates
        if not c.suspended
        and c.key not in exclude
        and c.free > 0
        and (price_cap is None or price_cap.allows(c.price_per_unit, c.pixels_per_unit))
    ]


def score(candidate: Candidate, default_latency: float) -> float:
    """Lower is better: expected seconds per unit·step, inflated by the failure rate."""
    latency = candidate.latency_score if candidate.latency_score is not None else default_latency
    return latency / max(candidate.success_rate, 0.05)


def rank(
    candidates: list[Candidate],
    price_cap: PriceCap | None = None,
    exclude: set[str] | None = None,
    rng: random.Random | None = None,
) -> list[Candidate]:
    """Eligible candidates in the order to try them: warm pool first, best first, shuffled among the best."""
    rng = rng or random.Random()
    pool = eligible(candidates, price_cap, exclude or set())
    measured = [c.latency_score for c in pool if c.latency_score is not None]
    # An unmeasured node is assumed typical, so it gets tried without being favoured.
    default_latency = statistics.median(measured) if measured else 1.0
    ordered: list[Candidate] = []
    for warm in (True, False):
        group = sorted((c for c in pool if c.warm == warm), key=lambda c: (score(c, default_latency), c.key))
        if not group:
            continue
        best = score(group[0], default_latency)
        leaders = [c for c in group[:TOP_K] if score(c, default_latency) <= best * BEST_SCORE_SPREAD]
        rng.shuffle(leaders)
        ordered += leaders + [c for c in group if c not in leaders]
    return ordered


def choose(
    candidates: list[Candidate],
    price_cap: PriceCap | None = None,
    exclude: set[str] | None = None,
    rng: random.Random | None = None,
) -> Candidate | None:
    ranked = rank(candidates, price_cap, exclude, rng)
    return ranked[0] if ranked else None


def fill_slots(
    waiting: Sequence[Waiting],
    candidates: list[Candidate],
    price_cap: PriceCap | None,
    excluded: Callable[[Waiting], set[str]],
    limit: int,
    rng: random.Random | None = None,
) -> list[tuple[Waiting, Candidate]]:
    """Free slots to the waiting stages in queue order (the caller's `waiting`, head first).

    Each stage goes to the best eligible node (`choose`) not among the nodes it already
    failed on; the slot it takes is no longer free for the next. A stage whose only free
    nodes are ones it failed on lets the next one by; with no free slot left, the rest wait.
    A stage that has failed on every node offering its capability may try them again (an
    outage of something they share, such as the chain, fails it everywhere at once; it would
    otherwise wait forever): its tries stay bounded by STAGE_MAX_ATTEMPTS (gateway/dispatch.py),
    and a failing node's suspension keeps it out meanwhile.
    The gateway's dispatch (gateway/queue.py) and the scheduling simulation (bench/scheduling.py)
    both call this.
    """
    placed: list[tuple[Waiting, Candidate]] = []
    offering = {c.key for c in candidates}
    for stage in waiting:
        if len(placed) >= limit:
            break
        failed_on = excluded(stage)
        chosen = choose(candidates, price_cap, set() if offering <= failed_on else failed_on, rng)
        if chosen is None:
            if not any(c.free for c in eligible(candidates, price_cap, set())):
                break
            continue
        placed.append((stage, chosen))
        candidates = [replace(c, in_use=c.in_use + 1) if c.key == chosen.key else c for c in candidates]
    return placed


def suspension_seconds(failures_in_row: int, base_s: float = 5.0, cap_s: float = 300.0) -> float:
    """Back-off that doubles with each failure in a row: 5, 10, 20, … up to 5 minutes."""
    if failures_in_row <= 0:
        return 0.0
    return min(cap_s, base_s * 2 ** (failures_in_row - 1))
