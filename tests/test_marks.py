"""The suite's own rule: a test that starts a process is marked `integration`, so `make test-fast` starts none."""

from __future__ import annotations

import subprocess

import pytest


def test_an_unmarked_test_cannot_start_a_process():
    with pytest.raises(AssertionError, match="test_an_unmarked_test_cannot_start_a_process starts true"):
        subprocess.run(["true"], check=True)


@pytest.mark.integration
def test_a_marked_test_may():
    assert subprocess.run(["true"], check=True).returncode == 0
