from __future__ import annotations

from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "livepeer_ai.pipelines"
    label = "pipelines"
