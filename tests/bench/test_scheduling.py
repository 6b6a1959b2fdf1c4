from __future__ import annotations

from bench import scheduling


def rows_for(load: float, nodes: int, pipeline: str = "image-to-video") -> dict[str, dict[str, float]]:
    rows = scheduling.run([nodes], [load], seed=7)
    return {policy: m for _, _, p, policy, m in rows if p == pipeline}


def test_at_competition_load_every_policy_serves_every_job():
    by_policy = rows_for(1, 10)
    assert by_policy["ours"]["success"] == 1.0
    assert by_policy["livepeer-2024"]["success"] == 1.0


def test_under_bursts_the_queue_keeps_jobs_the_2024_policy_drops():
    by_policy = rows_for(3, 6)
    assert by_policy["livepeer-2024"]["success"] < 0.95
    assert by_policy["ours"]["success"] == 1.0
    assert by_policy["ours"]["mean_wait"] > 0  # the price: some jobs wait their turn
    assert 0 < by_policy["ours"]["utilisation"] <= 1.0


def test_arrivals_are_reproducible_and_scale_with_load():
    once, again = scheduling.make_arrivals(3), scheduling.make_arrivals(3)
    assert once == again
    tripled = scheduling.make_arrivals(3, load=3)
    assert 2.4 < len(tripled) / len(once) < 3.6
