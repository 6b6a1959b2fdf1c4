from __future__ import annotations

from celery import shared_task

from livepeer_ai.gateway import leases, workflow


@shared_task(acks_late=True)
def drive_job(job_id: str) -> None:
    workflow.run_job(job_id)


@shared_task
def sweep_stalled_jobs() -> int:
    """Re-drive jobs whose worker died (their lease ran out) or whose message was lost."""
    stalled = leases.stalled_job_ids()
    for job_id in stalled:
        drive_job.delay(job_id)
    return len(stalled)
