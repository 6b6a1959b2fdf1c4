from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from studio import alt_text, rounds


@shared_task
def close_rounds() -> list[str]:
    """Beat runs this every minute; closing is idempotent, so a late or double run is harmless."""
    return rounds.close_due_rounds()


# A database or storage hiccup is worth a few tries; queue_caption queues one job however often it runs.
@shared_task(autoretry_for=(DatabaseError, OSError), max_retries=3, retry_backoff=2, retry_jitter=False)
def caption_gif(generation_id: int) -> str:
    """Queue the image-to-text job that writes this GIF's alt text; its id, or "" when none was queued."""
    job = alt_text.queue_caption(generation_id)
    return str(job.id) if job else ""
