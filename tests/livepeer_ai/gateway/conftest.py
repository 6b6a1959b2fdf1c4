"""Fixtures the gateway's network tests share."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def gateway_settings(settings: Any, tmp_path: Any, approved_models: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    settings.QUEUE_MAX_WAIT_S = 120
    settings.MAX_PRICE_PER_UNIT = 0
    settings.FALLBACK_PROVIDER_URL = ""
    return settings
