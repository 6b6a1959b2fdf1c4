"""Erlang C: what an ideal single shared FIFO queue (M/M/c) would give for the same load.

The benchmarks set the measured waits beside these numbers: c identical servers,
Poisson arrivals at rate λ, exponential service at rate μ per server, offered load
a = λ/μ erlangs and utilisation ρ = a/c (must be < 1 for the queue to be stable).
"""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_erlangs: float) -> float:
    """Probability that an arriving job has to wait (all `servers` busy), for offered load a = λ/μ.

    Computed through Erlang B's stable recurrence B(k) = a·B(k−1) / (k + a·B(k−1)),
    then C = B / (1 − ρ(1 − B)), so large c does not overflow a factorial.
    """
    if servers < 1:
        raise ValueError(f"servers must be at least 1, got {servers}")
    if offered_erlangs < 0:
        raise ValueError(f"offered load must be >= 0, got {offered_erlangs}")
    if offered_erlangs == 0:
        return 0.0
    rho = offered_erlangs / servers
    if rho >= 1:
        return 1.0
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_erlangs * blocking / (k + offered_erlangs * blocking)
    return blocking / (1 - rho * (1 - blocking))


def mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Wq, the mean time in queue of M/M/c: C(c, a) / (c·μ − λ); infinite when ρ ≥ 1."""
    if service_rate <= 0:
        raise ValueError(f"service rate must be > 0, got {service_rate}")
    if arrival_rate >= servers * service_rate:
        return math.inf
    return erlang_c(servers, arrival_rate / service_rate) / (servers * service_rate - arrival_rate)


def wait_percentile(servers: int, arrival_rate: float, service_rate: float, q: float) -> float:
    """The q-quantile of M/M/c's queueing time: P(W > t) = C·exp(−(cμ − λ)t), 0 when C ≤ 1 − q."""
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if arrival_rate >= servers * service_rate:
        return math.inf
    waiting = erlang_c(servers, arrival_rate / service_rate)
    if waiting <= 1 - q:
        return 0.0
    return math.log(waiting / (1 - q)) / (servers * service_rate - arrival_rate)
