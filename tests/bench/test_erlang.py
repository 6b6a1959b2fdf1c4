"""Erlang C against textbook values (Kleinrock; the call-centre tables every queueing course prints)."""

from __future__ import annotations

import math

import pytest

from bench.erlang import erlang_c, mean_wait, wait_percentile


def test_single_server_waits_with_probability_rho() -> None:
    # M/M/1: P(wait) = ρ and Wq = ρ / (μ − λ).
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)


def test_two_servers_match_the_closed_form() -> None:
    # M/M/2: C = 2ρ² / (1 + ρ); at a = 1 (ρ = 0.5) that is 1/3, and Wq = C / (2μ − λ) = 1/3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mean_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)


def test_call_centre_table_value() -> None:
    # The classic example: 10 agents, 8 erlangs offered → P(wait) ≈ 0.409.
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=5e-4)
    # By hand for c = 3, a = 2: (8/6 · 3) / (1 + 2 + 2 + 4) = 4/9; with μ = 1/s, Wq = (4/9) / (3 − 2) s.
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert mean_wait(3, 2.0, 1.0) == pytest.approx(4 / 9)


def test_large_server_counts_do_not_overflow() -> None:
    assert 0 < erlang_c(500, 480.0) < 1


def test_unstable_and_idle_queues() -> None:
    assert erlang_c(3, 3.0) == 1.0
    assert mean_wait(3, 3.0, 1.0) == math.inf
    assert erlang_c(3, 0.0) == 0.0
    with pytest.raises(ValueError):
        erlang_c(0, 1.0)


def test_wait_percentile_is_zero_when_most_jobs_never_wait() -> None:
    # C(2, 1) = 1/3 < 0.5, so the median wait is 0; p95 = ln(C/0.05)/(2μ − λ) = ln(20/3).
    assert wait_percentile(2, 1.0, 1.0, 0.5) == 0.0
    assert wait_percentile(2, 1.0, 1.0, 0.95) == pytest.approx(math.log(20 / 3))
