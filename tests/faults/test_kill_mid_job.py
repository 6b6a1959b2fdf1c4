"""Kill -9 one part of the network while stages run, restart it as an operator would, and check the books.

For each part: jobs submitted through the public API all finish, each exactly once
(one succeeded attempt and one receipt per stage, every attempt with an outcome),
charged once (the units the nodes signed for are those of the work done, once),
no process of the run is left without the part that started it, and the recovery
time (kill → first stage finishing after it) is recorded for docs/reliability.md.

    make test-faults                      # every part once
    FAULTS_ROUNDS=3 make test-faults      # every part three times
"""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import wait_for
from tests.faults.books import check_books, check_ledgers
from tests.faults.stack import NODES, FaultStack

pytestmark = [pytest.mark.faults, pytest.mark.integration]

JOBS = 4
# What each fault kills: the busy one of a pair (node-0 and its runner-0 hold a stage when both slots are busy).
FAULTS = {
    "engine": "engine",
    "worker": "worker",
    "beat": "beat",
    "node": "node-0",
    "runner": "runner-0",
    "redis": "redis",
    "chain": "chain",
}
ROUNDS = int(os.environ.get("FAULTS_ROUNDS", "1"))
RECOVERY_TARGET_S = 30.0
# A job waits behind at most JOBS / NODES stand-in stages of 4 s, plus the time a killed part takes to come back.
FINISH_TIMEOUT_S = 240.0


def finished(network: FaultStack, job_ids: list[str]) -> dict[str, str] | None:
    statuses = {job_id: network.job(job_id)["status"] for job_id in job_ids}
    return statuses if all(s in {"succeeded", "failed", "canceled"} for s in statuses.values()) else None


@pytest.mark.parametrize("round_no", range(1, ROUNDS + 1))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_network_recovers_from_kill_9(fault: str, round_no: int, fault_results: list, fault_stack: FaultStack) -> None:
    part = FAULTS[fault]
    job_ids = fault_stack.submit(JOBS, seed=1000 * round_no + 10 * list(FAULTS).index(fault))
    # Mid-job: every slot holds a stage (so the killed node and runner hold one too).
    wait_for(lambda: fault_stack.running_stages() == NODES, 120, f"both slots busy\n{fault_stack.log_tails()}", 0.2)
    killed_at = fault_stack.kill(part)
    # Whatever the dead part started dies with it (a node's runners: orchestrator/children.py).
    wait_for(lambda: not fault_stack.orphans(), 10, f"orphans of {part}: {fault_stack.orphans()}")
    fault_stack.up(part)
    back_s = time.time() - killed_at
    statuses = wait_for(
        lambda: finished(fault_stack, job_ids), FINISH_TIMEOUT_S, f"jobs after {fault}\n{fault_stack.log_tails()}", 0.5
    )
    assert set(statuses.values()) == {"succeeded"}, f"{statuses}\n{fault_stack.log_tails()}"
    books = fault_stack.books(job_ids)
    counts = check_books(books, job_ids)
    ledgers = check_ledgers(books["nodes"])
    ends = [a["ended"] for a in books["attempts"] if a["outcome"] == "succeeded" and a["ended"] > killed_at]
    assert ends, "no stage finished after the kill"
    recovery_s = min(ends) - killed_at
    # The stages the kill interrupted (an attempt that ended other than succeeded): when each was done again.
    interrupted = {(a["job"], a["stage"]) for a in books["attempts"] if a["outcome"] != "succeeded"}
    redone = [
        a["ended"] - killed_at
        for a in books["attempts"]
        if a["outcome"] == "succeeded" and (a["job"], a["stage"]) in interrupted
    ]
    orphans = fault_stack.orphans()
    assert not orphans, f"left running after {fault}: {orphans}"
    fault_results.append(
        {
            "fault": fault,
            "killed": part,
            "round": round_no,
            "jobs": len(job_ids),
            "succeeded": sum(s == "succeeded" for s in statuses.values()),
            "recovery_s": round(recovery_s, 2),
            "restarted_s": round(back_s, 2),
            "interrupted": len(interrupted),
            "redone_s": round(max(redone), 2) if redone else None,
            "all_done_s": round(max(a["ended"] for a in books["attempts"] if a["ended"]) - killed_at, 2),
            "target_s": RECOVERY_TARGET_S,
            "orphans": len(orphans),
            "load_average": round(os.getloadavg()[0], 1),
            "startup_s": round(fault_stack.startup_s, 1),
            "database": fault_stack.env["DATABASE_URL"].split(":", 1)[0],
            **counts,
            **ledgers,
        }
    )
