"""The public network overview: every orchestrator, jobs per pipeline, and winning tickets redeemed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from dashboard.models import NodeSnapshot
from dashboard.performance import NetworkScore, network_scores
from livepeer_ai.payments.models import ReceivedTicket, RedemptionStatus

SCORE_WINDOW = timedelta(days=7)
FEED_LENGTH = 15


@dataclass
class OrchestratorRow:
    snapshot: NodeSnapshot
    score: NetworkScore

    @property
    def address(self) -> str:
        return str(self.snapshot.orchestrator.address)

    @cached_property
    def capabilities(self) -> list[dict[str, Any]]:
        return self.snapshot.capabilities()

    @property
    def warm_models(self) -> list[str]:
        return [f"{c['pipeline']} · {c['model_id']}" for c in self.capabilities if c.get("warm")]

    @property
    def slots(self) -> int:
        return sum(c["slots"] for c in self.capabilities)

    @property
    def in_use(self) -> int:
        return sum(c["in_use"] for c in self.capabilities)

    @property
    def runners(self) -> dict[str, int]:
        """Runners healthy / restarting / down and restarts over all the node's capabilities (public in /info)."""
        return {name: sum(c[name] for c in self.capabilities) for name in ("healthy", "restarting", "down", "restarts")}


def orchestrator_rows(now: datetime) -> list[OrchestratorRow]:
    """Discovered nodes, highest stake first (unknown stakes last): three queries."""
    snapshots = list(NodeSnapshot.objects.filter(active=True).select_related("orchestrator"))
    scores = network_scores(now - SCORE_WINDOW)
    rows = [OrchestratorRow(s, scores.get(s.orchestrator_id, NetworkScore())) for s in snapshots]
    rows.sort(key=lambda r: (r.snapshot.stake is None, -(r.snapshot.stake or 0), r.snapshot.orchestrator.service_uri))
    return rows


def recent_redemptions(limit: int = FEED_LENGTH) -> list[Mapping[str, Any]]:
    """The latest winning tickets redeemed on chain, newest first: one query."""
    return list(
        ReceivedTicket.objects.filter(status=RedemptionStatus.REDEEMED, redeemed_at__isnull=False)
        .order_by("-redeemed_at", "-id")
        .values("id", "recipient", "sender", "face_value", "tx_hash", "redeemed_at", "manifest_id")[:limit]
    )
