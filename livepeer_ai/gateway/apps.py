from __future__ import annotations

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "livepeer_ai.gateway"
    label = "gateway"

    def ready(self) -> None:
        from livepeer_ai.gateway import queue
        from livepeer_ai.gateway.models import Job

        Job.line = queue
