"""A node whose chain does not answer is left alone for a while, longer while the outage lasts."""

from __future__ import annotations

from livepeer_ai.gateway.network import CHAIN_RETRY_FIRST_S, CHAIN_RETRY_MAX_S, ChainOutages

NODE = "http://node-a"
OTHER = "http://node-b"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_hold_doubles_per_outage_in_a_row_up_to_its_limit_and_ends_with_a_success():
    clock = Clock()
    outages = ChainOutages(clock)
    waits = [outages.record(NODE) for _ in range(8)]
    assert waits[:3] == [CHAIN_RETRY_FIRST_S, 2 * CHAIN_RETRY_FIRST_S, 4 * CHAIN_RETRY_FIRST_S]
    assert max(waits) == waits[-1] == CHAIN_RETRY_MAX_S
    assert outages.held() == {NODE}
    clock.now += CHAIN_RETRY_MAX_S + 0.1
    assert outages.held() == frozenset()
    outages.clear(NODE)
    assert outages.record(NODE) == CHAIN_RETRY_FIRST_S


def test_only_the_node_whose_chain_failed_is_held():
    clock = Clock()
    outages = ChainOutages(clock)
    outages.record(NODE)
    assert outages.held() == {NODE}
    assert OTHER not in outages.held()
