"""The payments benchmark, run with tiny counts: it measures on a real anvil and
writes every section with positive numbers (no timing thresholds; those belong
to `make bench`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from livepeer_ai.payments import bench
from livepeer_ai.payments.chain import Chain


@pytest.fixture
def scratch_chain(chain: Chain) -> Iterator[Chain]:
    """The session anvil, rolled back after the bench deploys and redeems on it."""
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield chain
    finally:
        assert chain.w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:]]  # without the header


def test_face_value_is_a_hundred_times_the_larger_of_tx_cost_and_ev() -> None:
    # docs/protocol.md §3.2: 1.2M gas at 0.1 gwei is a txCost of 1.2e14 wei, so faceValue 1.2e16.
    assert bench.tx_cost(1_200_000, 10**8) == 120_000_000_000_000
    assert bench.face_value_for(120_000_000_000_000) == 12_000_000_000_000_000
    assert bench.face_value_for(1, ticket_ev_wei=8 * 10**9) == 800_000_000_000
    face_value = bench.face_value_for(120_000_000_000_000)
    assert bench.win_prob_for(face_value) * face_value // bench.MAX_WIN_PROB == bench.DEFAULT_TICKET_EV_WEI


def test_bench_measures_and_writes_every_section(scratch_chain: Chain) -> None:
    throughput = bench.measure_ticket_throughput(tickets=50, repetitions=2)
    samples = bench.measure_redemption_gas(scratch_chain, batch_sizes=(1, 2), repetitions=2)
    markdown = bench.render(throughput, samples, bench.environment(scratch_chain), "bench --tiny")

    assert len(throughput.sign_rates) == len(throughput.verify_rates) == 2
    assert all(rate > 0 for rate in throughput.sign_rates + throughput.verify_rates)
    by_label = {sample.label: sample for sample in samples}
    from_deposit = by_label["redeemWinningTicket, paid from deposit"]
    first_reserve_claim = by_label["redeemWinningTicket, paid from reserve, first claim this round"]
    pair = by_label["batchRedeemWinningTickets × 2, from deposit"]
    assert from_deposit.median_gas > 21_000  # more than a bare transfer
    # Writing the round's reserve-claim counters from zero costs more than a deposit debit.
    assert first_reserve_claim.median_gas > from_deposit.median_gas
    # A batch shares the 21 000 intrinsic gas and warm storage between its tickets.
    assert pair.gas_per_ticket < by_label["batchRedeemWinningTickets × 1, from deposit"].gas_per_ticket

    assert "`bench --tiny`" in markdown and "UTC" in markdown and "anvil/" in markdown
    throughput_rows = table_rows(markdown, "Ticket throughput on one core")
    assert [row[0] for row in throughput_rows] == ["create + sign", "verify"]
    assert all(float(row[3]) > 0 for row in throughput_rows)
    gas_rows = table_rows(markdown, "Redemption gas")
    assert len(gas_rows) == len(samples) == 5
    assert all(int(cell) > 0 for row in gas_rows for cell in row[1:])
    comparison = table_rows(markdown, "Livepeer's redeem-gas assumption beside the measurement")
    assert comparison[0][:2] == ["Livepeer assumption, L2 (Arbitrum)", "1200000"]
    assert comparison[1][:2] == ["Livepeer assumption, L1", "350000"]
    assert comparison[0][2:] == ["120000000000000", "12000000000000000", "1200000000000000", "120000000000000000"]
    assert any(row[0].startswith("measured:") for row in comparison)
    assert all(re.fullmatch(r"[1-9][0-9]*", cell) for row in comparison for cell in row[1:])
