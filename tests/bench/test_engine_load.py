"""The engine benchmark end to end, small: a quick burst against the job engine (`run_engine`).

Starts everything the benchmark starts (Redis, a database, migrate, a node, the
stand-in runners, daphne, an engine process); needs no models. Asserts the report's
rows and that every job finished; no timing is asserted (that is the benchmark's job).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent.parent
JOBS = 6


def test_quick_burst_reports_every_row_and_finishes_every_job(tmp_path: Path) -> None:
    report = tmp_path / "engine.md"
    command = [sys.executable, "-m", "bench.engine_load", "--engine", "run_engine", "--quick"]
    command += [
        "--scenarios",
        "burst,streams",
        "--streams",
        str(JOBS),
        "--streams-nodes",
        "2",
        "--streams-service",
        "1",
    ]
    command += ["--jobs", str(JOBS), "--burst-service", "0.2", "--db", "sqlite", "--output", str(report)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = report.read_text()
    assert text.startswith("# Job engine under load")
    assert "python -m bench.engine_load --engine run_engine --quick" in text
    assert "| burst, 1 worker |" in text
    assert f"| streams, {JOBS} at once |" in text
    for row in (
        "| jobs finished |",
        "| makespan (first acceptance → last finish) |",
        "| ideal makespan (jobs × service / slots) |",
        "| slot utilisation, text-to-image (2 slots",
        "| shows a `queue_position` within 1 s of its 202 |",
        "| wait, text-to-image (acceptance → start on a runner)",
        "| CPU seconds, engine processes",
        "| DB statements, engine processes: total / per succeeded stage |",
        "| DB statements per waiting job per second",
        "| stages on text-to-image runners at once, most |",
        "| engine processes' threads / resident memory, most during the scenario |",
    ):
        assert row in text, f"missing row {row!r} in\n{text}"
    assert text.count(f"| jobs finished | {JOBS}/{JOBS} (100 %) succeeded;") == 2
    assert "had not finished" not in text


def test_most_at_once_counts_overlaps_and_not_a_handover() -> None:
    from bench.engine_report import most_at_once

    assert most_at_once([]) == 0
    assert most_at_once([(0, 10), (1, 2), (1.5, 3), (5, 6)]) == 3
    # One stage ends as the next starts on the same slot: one at a time, not two.
    assert most_at_once([(0, 1), (1, 2), (2, 3)]) == 1


@pytest.mark.parametrize(
    ("chosen", "fleet_nodes", "streams_nodes"),
    [("streams", 0, 2), ("burst,streams", 0, 2), ("mix,streams", 3, 2), ("saturation", 3, 0)],
)
def test_the_fleet_starts_only_for_the_scenarios_that_run_on_it(chosen, fleet_nodes, streams_nodes) -> None:
    from bench.engine_load import build_nodes, parse_args

    args = parse_args(["--scenarios", chosen, "--nodes", "3", "--streams", "5", "--streams-nodes", "2"])
    _burst, fleet, streams, pipelines = build_nodes(args, 0)
    assert (len(fleet), len(streams)) == (fleet_nodes, streams_nodes)
    assert [len(node.runners["text-to-image"]) for node in streams] == [3, 2][:streams_nodes]
    assert pipelines.count("image-to-video") == fleet_nodes


@pytest.mark.parametrize("bad", [["--streams-nodes", "0"], ["--streams", "1", "--streams-nodes", "2"]])
def test_a_streams_scenario_with_a_node_without_slots_is_refused(bad, capsys) -> None:
    from bench.engine_load import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--scenarios", "streams", *bad])
    assert "--streams" in capsys.readouterr().err
