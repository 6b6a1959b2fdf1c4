"""Fixtures for the studio: approved models, an in-memory channel layer, a fresh rate-limit cache, a second member."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def in_memory_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def studio_models(approved_models: Any) -> Any:
    # The stages' models registered and approved, as build_tiny_models leaves them in the demo.
    return approved_models


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Any:
    # Rate-limit counts live in the cache; one test's clicks must not limit the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def other_member(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("other-member", password="other-pass-1234")


def text_of(response: Any) -> str:
    """The page as a reader sees it: HTML entities (&#x27; …) turned back into characters."""
    return html.unescape(response.content.decode())
