"""The overhead benchmark runs end to end on real node and runner processes and reports every job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.integration
def test_overhead_benchmark_completes_every_job_and_replaces_its_section(tmp_path: Path) -> None:
    report = tmp_path / "scheduling.md"
    report.write_text("# Scheduling simulation\n\nsimulation table\n\n## Gateway overhead per job\n\nstale numbers\n")
    result = subprocess.run(
        [sys.executable, "-m", "bench.gateway_overhead", "--rate", "5", "--seconds", "2", "--runners", "1"]
        + ["--append", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    assert text.startswith("# Scheduling simulation\n\nsimulation table\n")
    assert "stale numbers" not in text
    assert text.count("## Gateway overhead per job") == 1
    assert "### 5 jobs/s offered\n\n10 jobs; 10 succeeded, 0 failed" in text
    assert "| gateway overhead (dispatch, inference excluded) |" in text
