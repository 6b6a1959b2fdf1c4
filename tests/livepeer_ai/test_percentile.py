"""The one percentile of the dashboard's latencies and the benchmark reports: nearest rank."""

from __future__ import annotations

from livepeer_ai.percentile import percentile


def test_percentile_is_the_nearest_rank_of_the_measured_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 1.0) == 100.0
    assert percentile(values, 0.0) == 1.0


def test_percentile_sorts_what_it_is_given_and_never_interpolates() -> None:
    assert percentile([3.0, 1.0, 2.0, 10.0], 0.5) == 2.0
    assert percentile([1.0, 4.0], 0.6) == 4.0
    assert percentile([7.5], 0.95) == 7.5


def test_percentile_of_no_values_is_none_so_pages_say_n_a() -> None:
    assert percentile([], 0.5) is None
