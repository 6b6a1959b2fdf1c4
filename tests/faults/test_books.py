"""The fault suite's verdicts can fail: each way a job could be run twice, charged twice or left open is caught."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.faults.books import check_books, check_ledgers

JOB = "5b0c3a0e-0000-4000-8000-000000000001"


def clean_books() -> dict[str, Any]:
    """One text-to-image job that failed once on a killed node, then succeeded once elsewhere."""
    return {
        "jobs": {JOB: {"status": "succeeded", "stages": ["text-to-image"], "outputs": ["nsfw", "text-to-image"]}},
        "attempts": [
            {"job": JOB, "stage": "text-to-image", "outcome": "failed", "units": 0, "node": "a", "ended": 1.0},
            {"job": JOB, "stage": "text-to-image", "outcome": "succeeded", "units": 262144, "node": "b", "ended": 2.0},
        ],
        "receipts": [{"job": JOB, "stage": "text-to-image", "kind": "image", "units": 262144}],
    }


def test_a_job_done_once_and_signed_once_passes():
    counts = check_books(clean_books(), [JOB])
    assert counts["succeeded_attempts"] == 1 and counts["receipts"] == 1
    assert counts["units_charged"] == counts["units_done"] == 262144
    assert counts["attempts"] == {"failed": 1, "succeeded": 1}


def broken(change: str) -> dict[str, Any]:
    books = copy.deepcopy(clean_books())
    if change == "second success":
        books["attempts"].append({**books["attempts"][1], "node": "a"})
    elif change == "second receipt":
        books["receipts"].append(dict(books["receipts"][0]))
    elif change == "no success":
        books["attempts"].pop()
    elif change == "no output":
        books["jobs"][JOB]["outputs"] = ["nsfw"]
    elif change == "no receipt":
        books["receipts"] = []
    elif change == "charged more than done":
        books["receipts"][0]["units"] *= 2
    elif change == "attempt left open":
        books["attempts"][0]["outcome"] = ""
    return books


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("second success", "did not succeed exactly once"),
        ("second receipt", "more than one receipt"),
        ("no success", "did not succeed exactly once"),
        ("no output", "has no text-to-image output"),
        ("no receipt", "no receipt"),
        ("charged more than done", "signed"),
        ("attempt left open", "never got an outcome"),
    ],
)
def test_books_that_do_not_balance_fail(change, says):
    with pytest.raises(AssertionError, match=says):
        check_books(broken(change), [JOB])


def node_books(**changes: int) -> dict[str, dict[str, int]]:
    """Two tickets of 500,000 wei EV each at a node that did 262,144 wei of work."""
    books = {
        "fees_of_work_done": 262144,
        "tickets_received": 2,
        "ev_received": 1_000_000,
        "node_balance": 737856,
        "tickets_sent": 2,
        "gateway_credit": 737856,
    }
    return {"0xnode": {**books, **changes}}


def test_ledgers_that_agree_pass():
    assert check_ledgers(node_books()) == {"tickets": 2, "wei_charged": 262144, "wei_of_work_done": 262144}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"tickets_sent": 3}, "tickets sent != received"),
        ({"node_balance": 737856 - 262144, "gateway_credit": 737856 - 262144}, "charged 524288 wei"),
        ({"gateway_credit": 1_000_000}, "credit != balance"),
    ],
)
def test_ledgers_that_disagree_fail(changes, says):
    with pytest.raises(AssertionError, match=says):
        check_ledgers(node_books(**changes))


def test_no_node_on_chain_fails():
    with pytest.raises(AssertionError, match="on chain"):
        check_ledgers({})
