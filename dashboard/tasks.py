from __future__ import annotations

from celery import shared_task

from dashboard import live, snapshots


@shared_task(ignore_result=True)
def refresh_network() -> int:
    """Beat, every DASHBOARD_REFRESH_S: fetch every node, store its snapshot, push the fresh fragments."""
    fresh = snapshots.refresh_all()
    live.publish({s.orchestrator.address for s in fresh if s.orchestrator.address})
    return len(fresh)
