"""What "finished once, charged once" means, checked on the gateway's own rows (tests/faults/stack.py `books`)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def check_books(books: dict[str, Any], job_ids: list[str]) -> dict[str, Any]:
    """Exactly once and charged once, from the gateway's rows; returns the counts for the report."""
    succeeded = Counter((a["job"], a["stage"]) for a in books["attempts"] if a["outcome"] == "succeeded")
    receipts = Counter((r["job"], r["stage"], r["kind"]) for r in books["receipts"])
    stages = [(job_id, stage) for job_id in job_ids for stage in books["jobs"][job_id]["stages"]]
    without_outcome = [a for a in books["attempts"] if not a["outcome"]]
    assert all(succeeded[key] == 1 for key in stages), f"a stage did not succeed exactly once: {succeeded}"
    assert set(succeeded) == set(stages), f"successes for stages no job has: {set(succeeded) - set(stages)}"
    assert all(n == 1 for n in receipts.values()), f"an output has more than one receipt: {receipts}"
    for job_id, stage in stages:
        assert stage in books["jobs"][job_id]["outputs"], f"{job_id} has no {stage} output"
        assert (job_id, stage) in {(j, s) for j, s, _ in receipts}, f"{job_id} {stage}: no receipt"
    # Charged once: the units the nodes signed for, per stage, are those of the one attempt that did the work.
    done_units = {(a["job"], a["stage"]): a["units"] for a in books["attempts"] if a["outcome"] == "succeeded"}
    signed_units = {(r["job"], r["stage"]): r["units"] for r in books["receipts"]}
    assert signed_units == done_units, f"signed {signed_units} != done {done_units}"
    assert not without_outcome, f"attempts that never got an outcome: {without_outcome}"
    return {
        "stages": len(stages),
        "succeeded_attempts": sum(succeeded.values()),
        "receipts": sum(receipts.values()),
        "units_charged": sum(signed_units.values()),
        "units_done": sum(done_units.values()),
        "attempts": dict(Counter(a["outcome"] for a in books["attempts"])),
    }


def check_ledgers(nodes: dict[str, dict[str, int]]) -> dict[str, int]:
    """Charged once, on chain: per node, the gateway's count of tickets sent is the node's count of tickets
    received, the node charged the fees of the work it completed exactly (EV received − its balance), and the
    gateway's credit there is the node's balance."""
    assert nodes, "no node has an address: are payments on chain?"
    for address, books in nodes.items():
        assert books["tickets_sent"] == books["tickets_received"], f"{address}: tickets sent != received: {books}"
        charged = books["ev_received"] - books["node_balance"]
        assert charged == books["fees_of_work_done"], f"{address}: charged {charged} wei for work of {books}"
        assert books["gateway_credit"] == books["node_balance"], f"{address}: credit != balance: {books}"
    return {
        "tickets": sum(b["tickets_received"] for b in nodes.values()),
        "wei_charged": sum(b["ev_received"] - b["node_balance"] for b in nodes.values()),
        "wei_of_work_done": sum(b["fees_of_work_done"] for b in nodes.values()),
    }
