from __future__ import annotations

from celery import shared_task

from studio import rounds


@shared_task
def close_rounds() -> list[str]:
    """Beat runs this every minute; closing is idempotent, so a late or double run is harmless."""
    return rounds.close_due_rounds()
