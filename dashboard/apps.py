from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def is_operator(user: Any) -> bool:
    from dashboard.models import Operator

    return Operator.of(user) is not None


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from livepeer_ai.registry.curation import allow_proposals_from

        # Node operators may propose models for the registry (curators still approve them).
        allow_proposals_from(is_operator)
