from __future__ import annotations

from django.apps import AppConfig


class RunnerConfig(AppConfig):
    name = "livepeer_ai.runner"
    label = "runner"
