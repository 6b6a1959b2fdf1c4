from __future__ import annotations

from celery import shared_task

from livepeer_ai.gateway import workflow


@shared_task(acks_late=True)
def drive_job(job_id: str) -> None:
    workflow.run_job(job_id)
