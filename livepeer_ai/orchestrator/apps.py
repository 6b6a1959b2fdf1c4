from __future__ import annotations

from django.apps import AppConfig


class OrchestratorConfig(AppConfig):
    name = "livepeer_ai.orchestrator"
    label = "orchestrator"
