from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def on_jobs_finished(sender: Any, **kwargs: Any) -> None:
    """studio.job_events' handler, imported when a job first finishes: that module pulls in the
    gateway's payment and API code (web3 among it), about a second of CPU that every process which
    sets Django up (runners, nodes, management commands) would otherwise pay at start."""
    from studio import job_events

    job_events.on_jobs_finished(sender, **kwargs)


class StudioConfig(AppConfig):
    name = "studio"

    def ready(self) -> None:
        from livepeer_ai.gateway.queue import jobs_finished

        jobs_finished.connect(on_jobs_finished, dispatch_uid="studio-alt-text")
