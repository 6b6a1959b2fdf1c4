"""A node's view of which of its models the registry approves: cached, refreshed, fail-closed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.db import DatabaseError

from livepeer_ai.orchestrator import curation as node_curation
from livepeer_ai.orchestrator.config import ConfigError, parse_config
from livepeer_ai.orchestrator.curation import RegistryApprovals
from livepeer_ai.registry import curation
from livepeer_ai.registry.models import EntryStatus

pytestmark = pytest.mark.django_db(transaction=True)

T2I = ("text-to-image", "livepeer-ai/tiny-sdxl-turbo")
I2V = ("image-to-video", "livepeer-ai/tiny-svd-xt")
CONFIG: dict[str, Any] = {
    "node": {"private_key_env": "K"},
    "capabilities": [{"pipeline": T2I[0], "model_id": T2I[1], "runners": [{"url": "http://127.0.0.1:9"}]}],
}


def register(key: tuple[str, str], status: str) -> Any:
    return curation.register({"pipeline": key[0], "model_id": key[1], "family": "sd15"}, status=status)


def approved(approvals: RegistryApprovals) -> frozenset[tuple[str, str]]:
    """As the node asks, on an event loop (the registry is read in a worker thread)."""
    return asyncio.run(approvals.approved())


def test_approvals_are_read_once_per_refresh_and_see_changes_after_it(personas):
    t2i = register(T2I, EntryStatus.APPROVED)
    register(I2V, EntryStatus.PENDING)
    approvals = RegistryApprovals([T2I, I2V, ("upscale", "not/registered")], refresh_s=3600)
    assert approved(approvals) == {T2I}
    curation.disable(t2i, personas.admin)
    assert approved(approvals) == {T2I}  # cached: /info stays cheap
    approvals.refresh_s = 0
    assert approved(approvals) == frozenset()
    assert approvals.current == frozenset()


def test_a_registry_that_cannot_be_read_keeps_the_last_answer_and_starts_closed(monkeypatch):
    register(T2I, EntryStatus.APPROVED)
    approvals = RegistryApprovals([T2I], refresh_s=0)
    assert approved(approvals) == {T2I}

    def unreadable(keys: Any) -> set[tuple[str, str]]:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(node_curation, "approved_keys", unreadable)
    assert approved(approvals) == {T2I}
    assert approved(RegistryApprovals([T2I], refresh_s=0)) == frozenset()


def test_registry_refresh_is_configurable_and_checked():
    assert parse_config(CONFIG).registry_refresh_s == 5.0
    assert (
        parse_config({**CONFIG, "node": {"private_key_env": "K", "registry_refresh_s": 0.5}}).registry_refresh_s == 0.5
    )
    with pytest.raises(ConfigError, match="registry_refresh_s must be >= 0"):
        parse_config({**CONFIG, "node": {"private_key_env": "K", "registry_refresh_s": -1}})


def text_to_image_runner() -> Any:
    """A runner that is always idle and answers every text-to-image job with no images."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "IDLE"}

    @app.post("/text-to-image")
    async def text_to_image() -> dict[str, Any]:
        return {"images": []}

    return app


def test_a_job_naming_no_model_runs_on_an_approved_model_of_its_pipeline(tmp_path):
    from tests.conftest import HTTP, orchestrator_node, serve, wait_for

    disabled = ("text-to-image", "someone/disabled-model")
    register(disabled, EntryStatus.DISABLED)
    approved_entry = register(T2I, EntryStatus.APPROVED)
    with serve(text_to_image_runner()) as runner_url:
        # The disabled model is listed first: a job naming no model must not land on it.
        offers = [(*disabled, runner_url), (*T2I, runner_url)]
        with orchestrator_node({}, tmp_path, registry_refresh_s=0, offers=offers) as node_url:

            def info() -> dict[str, Any]:
                return dict(HTTP.get(f"{node_url}/info", timeout=5).json())

            wait_for(lambda: [c["capacity"] for c in info()["capabilities"]] == [1], 30, "the approved model's runner")
            response = HTTP.post(f"{node_url}/text-to-image", json={"prompt": "no model named"}, timeout=30)
            assert response.status_code == 200, response.text
            assert {c["model_id"]: c["stats"]["served"] for c in info()["capabilities"]} == {T2I[1]: 1}

            # With no model of the pipeline approved, it is the plain refusal.
            curation.disable(approved_entry, None)
            response = HTTP.post(f"{node_url}/text-to-image", json={"prompt": "no model named"}, timeout=30)
            assert response.status_code == 403 and "not approved" in response.text
