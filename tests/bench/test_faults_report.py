"""The reliability table is rendered from the suite's results file, into the marked part of the document only."""

from __future__ import annotations

import json

import pytest

from bench.faults_report import BEGIN, END, main, render


def result(fault: str, recovery_s: float, round_no: int = 1) -> dict:
    return {
        "fault": fault,
        "killed": fault,
        "round": round_no,
        "jobs": 4,
        "succeeded": 4,
        "recovery_s": recovery_s,
        "restarted_s": 2.5,
        "interrupted": 1 if fault == "node" else 0,
        "redone_s": recovery_s + 5 if fault == "node" else None,
        "all_done_s": 9.0,
        "target_s": 30.0,
        "orphans": 0,
        "load_average": 12.5,
        "startup_s": 80.0,
        "database": "postgres",
        "stages": 4,
        "succeeded_attempts": 4,
        "receipts": 4,
        "units_charged": 1048576,
        "units_done": 1048576,
        "attempts": {"succeeded": 4, "failed": 1},
        "tickets": 9,
        "wei_charged": 2359296,
        "wei_of_work_done": 2359296,
    }


RUN = {
    "finished_at": "2026-12-01T19:30:00+00:00",
    "wall_s": 400.0,
    "load_average_end": [11.0, 12.0, 13.0],
    "cpus": 2,
    "machine": "Linux x86_64, Python 3.11.7",
    "results": [result("node", 6.0), result("node", 40.0, 2), result("redis", 1.5)],
}


def test_one_row_per_fault_with_median_max_and_the_target_count():
    table = render(RUN)
    node = next(line for line in table.splitlines() if line.startswith("| node"))
    assert "| 2 | 8 / 8 | 8 / 8 | 8 | 2,097,152 / 2,097,152 |" in node
    assert "| 23.0, 40.0 | 1 of 2 (< 30 s) | 2: 45.0 |" in node
    redis = next(line for line in table.splitlines() if line.startswith("| redis"))
    assert "| none interrupted |" in redis
    assert "failed 2, succeeded 8" in node
    assert "| 9 tickets; 2,359,296 wei charged for 2,359,296 of work |" in node
    assert sum(line.startswith("| redis") for line in table.splitlines()) == 1


def test_only_the_marked_part_of_the_document_is_replaced(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(RUN))
    document = tmp_path / "reliability.md"
    document.write_text(f"# Reliability\n\nhand-written\n\n{BEGIN}\nold table\n{END}\n\nmore hand-written\n")
    main(["--results", str(results), "--output", str(document)])
    text = document.read_text()
    assert "old table" not in text and "| node (`node`) | 2 |" in text
    assert text.startswith("# Reliability\n\nhand-written\n") and text.endswith("\n\nmore hand-written\n")


def test_a_document_without_markers_is_refused(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(RUN))
    document = tmp_path / "reliability.md"
    document.write_text("# Reliability\n")
    with pytest.raises(SystemExit, match="no marker lines"):
        main(["--results", str(results), "--output", str(document)])
