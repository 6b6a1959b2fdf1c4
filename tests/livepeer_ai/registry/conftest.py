"""Registry entries the curation tests start from."""

from __future__ import annotations

from typing import Any

import pytest

from livepeer_ai.registry import curation
from livepeer_ai.registry.models import EntryStatus, ModelEntry

TURBO = {"pipeline": "text-to-image", "model_id": "stabilityai/sdxl-turbo", "family": "sdxl-turbo"}


def entry_fields(**overrides: Any) -> dict[str, Any]:
    return {**TURBO, "licence": "sai-nc-community", "memory_mb": 8000, **overrides}


@pytest.fixture
def approved_entry(db: Any) -> ModelEntry:
    return curation.register(entry_fields(), status=EntryStatus.APPROVED, note="seeded")


@pytest.fixture
def pending_entry(personas: Any) -> ModelEntry:
    return curation.propose(personas.operator, entry_fields(model_id="someone/new-model"), note="please run it")
