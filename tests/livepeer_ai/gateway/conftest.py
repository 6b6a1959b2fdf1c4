"""Fixtures the gateway's network tests share."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import HTTP, PYTHON, ROOT, ManagedProcess
from tests.processes import empty_queue, start_daphne


@pytest.fixture
def gateway_settings(settings: Any, tmp_path: Any, approved_models: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    settings.QUEUE_MAX_WAIT_S = 120
    settings.MAX_PRICE_PER_UNIT = 0
    settings.FALLBACK_PROVIDER_URL = ""
    return settings


@pytest.fixture(scope="module")
def live_api(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """A real daphne serving the web app (no nodes, no engine: jobs stay queued), and an API key for it."""
    issue = "from livepeer_ai.gateway.models import ApiKey; print(ApiKey.issue('live')[1])"
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", issue], cwd=ROOT, env=stack_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    # A synchronous request answers 202 after a second: nothing here would ever finish it.
    process = start_daphne({**stack_env, "API_SYNC_TIMEOUT_S": "1"}, tmp_path_factory.mktemp("daphne"))
    try:
        yield LiveApi(process, result.stdout.strip().splitlines()[-1])
    finally:
        process.stop()
        empty_queue(stack_env)  # its jobs were never to run: not the next test's work


@dataclass
class LiveApi:
    process: ManagedProcess
    key: str

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def assert_alive(self) -> None:
        assert self.process.proc.poll() is None, f"daphne died:\n{self.process.log_tail()}"
        assert HTTP.get(f"{self.url}/", timeout=10).status_code == 200
