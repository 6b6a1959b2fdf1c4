"""A node's /info is checked before selection reads it: whatever one node sends, the others are still chosen."""

from __future__ import annotations

from typing import Any

import pytest

from livepeer_ai.gateway import network, slots
from tests.conftest import serve

PIPELINE, MODEL = "text-to-image", "livepeer-ai/tiny-sdxl-turbo"


def node_app(info: Any) -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/info")
    async def served() -> Any:
        return info

    return app


def good_capability(**overrides: Any) -> dict[str, Any]:
    return {
        "pipeline": PIPELINE,
        "model_id": MODEL,
        "warm": True,
        "capacity": 1,
        "in_use": 0,
        "price_per_unit": 5,
        "pixels_per_unit": 1,
        **overrides,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad_info",
    [
        {"address": "0x1", "capabilities": [good_capability(capacity="lots")]},
        {"capabilities": [good_capability(capacity=None, in_use=-3)]},
        {"capabilities": ["text-to-image"]},
        {"capabilities": {"pipeline": PIPELINE}},
        ["not", "an", "object"],
        {"capabilities": [good_capability(price_per_unit=2**300, warm="yes")]},
    ],
    ids=["capacity-text", "capacity-null", "capability-string", "capabilities-object", "info-list", "huge-price"],
)
def test_a_node_sending_a_malformed_info_cannot_break_the_choice_of_node(settings, bad_info):
    settings.WEB3_PROVIDER_URI = ""
    with serve(node_app(bad_info)) as bad_url, serve(node_app({"capabilities": [good_capability()]})) as good_url:
        settings.ORCHESTRATOR_URLS = [bad_url, good_url]
        for row in network.known_orchestrators():
            network.refresh_info(row, force=True)
        found, by_key = slots.candidates(PIPELINE, MODEL)
    assert good_url in {c.key for c in found}
    assert all(isinstance(c.capacity, int) and c.capacity >= 0 for c in found)
    bad = by_key.get(bad_url) or network.Orchestrator.objects.get(service_uri=bad_url)
    assert bad.last_error, "what was left out is recorded as the node's error"
