"""The runner's one slot and its worker thread (livepeer_ai/runner/jobs.py)."""

from __future__ import annotations

import time

import pytest

from livepeer_ai.runner.jobs import JobSlot, RunnerBusy, final_event, start_job


class SlowToRelease(JobSlot):
    """A slot whose release takes a while: what a busy machine can do to the worker thread at that instant."""

    def release(self) -> None:
        time.sleep(0.2)
        super().release()


async def test_a_jobs_outcome_arrives_only_once_its_slot_is_free() -> None:
    # A caller (a node's pooled client) sends its next job the moment it has the last one's answer.
    for job, kind in ((lambda *_: {"images": []}, "result"), (lambda *_: 1 / 0, "error")):
        slot = SlowToRelease()
        events = start_job(slot, slot.acquire(), job, "text-to-image")
        outcome = await final_event(events)
        assert (outcome.kind, slot.busy) == (kind, False)
        slot.acquire()  # and it can be taken again at once


async def test_a_second_job_finds_the_slot_taken_until_the_first_is_done() -> None:
    slot = JobSlot()
    events = start_job(slot, slot.acquire(), lambda *_: (time.sleep(0.3), {"images": []})[1], "text-to-image")
    with pytest.raises(RunnerBusy):
        slot.acquire()
    assert (await final_event(events)).kind == "result"
    slot.acquire()
