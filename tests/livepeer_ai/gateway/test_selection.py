from __future__ import annotations

import random
from collections import Counter

from livepeer_ai.gateway.selection import Candidate, PriceCap, choose, fill_slots, rank, suspension_seconds


def node(key: str, **overrides: object) -> Candidate:
    values: dict[str, object] = {"warm": True, "capacity": 1, "in_use": 0, "latency_score": 1.0}
    values.update(overrides)
    return Candidate(key=key, **values)  # type: ignore[arg-type]


def test_skips_busy_nodes():
    assert choose([node("busy", in_use=1), node("free", latency_score=9.0)]).key == "free"


def test_skips_suspended_nodes():
    assert choose([node("suspended", suspended=True, latency_score=0.1), node("ok")]).key == "ok"


def test_nothing_free_means_no_choice():
    assert choose([node("a", in_use=1), node("b", suspended=True), node("c", capacity=0)]) is None


def test_respects_the_price_cap_in_integer_wei_per_pixel():
    cap = PriceCap(price_per_unit=10, pixels_per_unit=2)  # 5 wei per pixel
    cheap = node("cheap", price_per_unit=5, pixels_per_unit=1, latency_score=5.0)
    dear = node("dear", price_per_unit=11, pixels_per_unit=2, latency_score=0.1)  # 5.5 per pixel
    assert [c.key for c in rank([cheap, dear], cap)] == ["cheap"]
    assert choose([dear], cap) is None


def test_warm_before_cold_even_when_cold_is_faster():
    ranked = rank([node("cold", warm=False, latency_score=0.01), node("warm", latency_score=5.0)])
    assert [c.key for c in ranked] == ["warm", "cold"]


def test_faster_and_more_reliable_nodes_rank_first():
    ranked = rank(
        [
            node("slow", latency_score=4.0),
            node("flaky", latency_score=1.0, success_rate=0.1),
            node("good", latency_score=1.0, success_rate=0.95),
        ],
        rng=random.Random(1),
    )
    assert ranked[0].key == "good"
    assert ranked[-1].key == "flaky"  # 1.0 / 0.1 = 10 is worse than 4.0


def test_load_spreads_among_the_best_but_not_to_the_worst():
    nodes = [node("a", latency_score=1.0), node("b", latency_score=1.2), node("slow", latency_score=10.0)]
    picks = Counter(choose(nodes, rng=random.Random(seed)).key for seed in range(400))
    assert picks["a"] > 120 and picks["b"] > 120
    assert picks["slow"] == 0


def test_unmeasured_node_is_tried_as_typical():
    nodes = [
        node("measured-fast", latency_score=1.0),
        node("new", latency_score=None),
        node("measured-slow", latency_score=3.0),
    ]
    ranked = [c.key for c in rank(nodes, rng=random.Random(0))]
    # Scored at the median of the measured ones (2.0): between them, not ahead of the fastest.
    assert ranked == ["measured-fast", "new", "measured-slow"]


def test_excluded_nodes_are_not_chosen_again():
    assert choose([node("a", latency_score=0.1), node("b")], exclude={"a"}).key == "b"


def test_suspension_doubles_with_each_failure_up_to_a_cap():
    assert [suspension_seconds(n) for n in range(0, 5)] == [0.0, 5.0, 10.0, 20.0, 40.0]
    assert suspension_seconds(30) == 300.0


def test_fill_slots_gives_free_slots_to_the_head_of_the_queue_in_order():
    nodes = [Candidate("a", True, capacity=2, in_use=1), Candidate("b", True, capacity=1, in_use=0)]
    placed = fill_slots(["first", "second", "third"], nodes, None, lambda _: set(), limit=10, rng=random.Random(1))
    assert [stage for stage, _ in placed] == ["first", "second"]
    assert sorted(node.key for _, node in placed) == ["a", "b"]


def test_fill_slots_lets_a_stage_by_only_when_its_free_nodes_are_ones_it_failed_on():
    nodes = [Candidate("a", True, capacity=1, in_use=0), Candidate("b", True, capacity=1, in_use=1)]
    failed_on = {"first": {"a"}}
    placed = fill_slots(["first", "second"], nodes, None, lambda s: failed_on.get(s, set()), limit=10)
    assert [(stage, node.key) for stage, node in placed] == [("second", "a")]


def test_fill_slots_tries_again_a_stage_that_failed_on_every_node():
    # The chain was down: ticket params failed on both nodes; both are back and free.
    nodes = [Candidate("a", True, capacity=1, in_use=0), Candidate("b", True, capacity=1, in_use=0)]
    placed = fill_slots(["stranded"], nodes, None, lambda _: {"a", "b"}, limit=10, rng=random.Random(0))
    assert [stage for stage, _ in placed] == ["stranded"]
    # A suspended node stays out all the same.
    nodes[0] = Candidate("a", True, capacity=1, in_use=0, suspended=True)
    placed = fill_slots(["stranded"], nodes, None, lambda _: {"a", "b"}, limit=10, rng=random.Random(0))
    assert [node.key for _, node in placed] == ["b"]


def test_fill_slots_places_no_more_than_its_limit():
    nodes = [Candidate("a", True, capacity=5, in_use=0)]
    assert len(fill_slots(list(range(5)), nodes, None, lambda _: set(), limit=2)) == 2
