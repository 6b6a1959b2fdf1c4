from __future__ import annotations

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "livepeer_ai.registry"
    label = "registry"
