from __future__ import annotations

from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"

    def ready(self) -> None:
        from livepeer_ai.gateway.queue import jobs_finished
        from studio.job_events import on_jobs_finished

        jobs_finished.connect(on_jobs_finished, dispatch_uid="studio-alt-text")
