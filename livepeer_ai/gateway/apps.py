from __future__ import annotations

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "livepeer_ai.gateway"
    label = "gateway"
