"""The fault suite's network, started once for the module, and the results file its run leaves.

Each test appends what it measured; at the end the results are written to
`var/faults/results.json` (`FAULTS_RESULTS` to change it), which
`python -m bench.faults_report` renders into docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.faults.stack import FaultStack, start_fault_stack, stop_fault_stack

RESULTS = Path(os.environ.get("FAULTS_RESULTS", ROOT / "var" / "faults" / "results.json"))


@pytest.fixture(scope="session")
def fault_results() -> Iterator[list[dict[str, Any]]]:
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    yield results
    if not results:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "wall_s": round(time.monotonic() - started, 1),
                "load_average_end": [round(x, 1) for x in os.getloadavg()],
                "cpus": os.cpu_count(),
                "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
                "results": results,
            },
            indent=2,
        )
    )


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    network = start_fault_stack(tmp_path_factory.mktemp("faults"))
    try:
        yield network
    finally:
        stop_fault_stack(network)
