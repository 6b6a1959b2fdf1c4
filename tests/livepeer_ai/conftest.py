"""Runners for the pipelines that write text: in the suite's fleet (tests/conftest.py RUNNERS), started
only by the tests that ask for them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RUNNERS

TEXT_RUNNERS: dict[str, tuple[str, str]] = {name: RUNNERS[name] for name in ("image-to-text", "audio-to-text", "llm")}


@pytest.fixture(scope="session")
def text_runners(runners: Any) -> Any:
    return runners
