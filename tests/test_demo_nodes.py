"""The demo's two nodes (config/demo) sell every pipeline the public API routes by default.

A pipeline no node sells fails at once with 503 ("No orchestrator in the network offers …"),
so a route added to the gateway and left out of these files is broken in `make demo`.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from livepeer_ai.orchestrator.config import load_config
from livepeer_ai.pipelines.tiny import tiny_catalog
from tests.conftest import ROOT

DEMO_NODES = sorted((ROOT / "config" / "demo").glob("orchestrator-*.toml"))


def sold_warm() -> set[tuple[str, str]]:
    return {cap.key for path in DEMO_NODES for cap in load_config(path).capabilities if cap.warm and cap.local}


def test_demo_nodes_sell_every_default_model_warm():
    assert len(DEMO_NODES) == 2
    unsold = sorted(set(settings.DEFAULT_MODELS.items()) - sold_warm())
    assert unsold == [], f"no demo node sells {unsold}"


def test_demo_nodes_sell_only_models_build_tiny_models_registers():
    registered = {(entry["pipeline"], entry["model_id"]) for entry in tiny_catalog(Path("var/models"))}
    assert sold_warm() - registered == set()
