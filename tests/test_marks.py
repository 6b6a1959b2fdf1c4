"""The suite's own rule: a test that starts a process is marked `integration`, so `make test-fast` starts none."""

from __future__ import annotations

import os
import subprocess

import pytest


def test_an_unmarked_test_cannot_start_a_process():
    with pytest.raises(AssertionError, match="test_an_unmarked_test_cannot_start_a_process starts true"):
        subprocess.run(["true"], check=True)


@pytest.mark.integration
def test_a_marked_test_may():
    assert subprocess.run(["true"], check=True).returncode == 0


@pytest.mark.integration
def test_two_test_processes_run_each_file_whole_and_the_browser_files_as_one_unit(tmp_path):
    """`make test`'s scheduler (tests/conftest.py) on a tree of quick tests: the tests of one file run on
    one process (their module fixtures start once), every browser file's on the same one (they share
    the demo site), whichever process is free takes the next unit, and a file that starts processes
    is handed out before one that does not (collected first here)."""
    import re
    import sys

    from tests.conftest import ROOT

    files = ["tests/browser/test_a.py", "tests/browser/test_b.py", "tests/test_c.py", "tests/test_d.py"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        marked = "import pytest\npytestmark = pytest.mark.integration\n" if name == "tests/test_d.py" else ""
        (tmp_path / name).write_text(
            "import time\n" + marked + "".join(f"def test_{n}():\n    time.sleep(0.2)\n" for n in range(4))
        )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "--ds", "tests.settings"]
        + ["-n", "2", "--dist", "loadscope", "--no-loadscope-reorder", "-v", "--rootdir", str(tmp_path), *files],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ran = re.findall(r"^\[(gw\d)\] \[ *\d+%\] PASSED (\S+)", result.stdout, re.MULTILINE)
    assert len(ran) == 16, result.stdout
    on = {name: {worker for worker, nodeid in ran if nodeid.startswith(name)} for name in files}
    browser = on["tests/browser/test_a.py"] | on["tests/browser/test_b.py"]
    assert len(browser) == 1 and all(len(workers) == 1 for workers in on.values()), on
    assert on["tests/test_c.py"] | on["tests/test_d.py"] != browser, on  # the other process took the rest
    order = [nodeid for _, nodeid in ran]
    assert order.index("tests/test_d.py::test_0") < order.index("tests/test_c.py::test_0"), order
