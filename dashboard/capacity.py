"""A node's live capacity, from the last snapshot of each of its service URIs (one query)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.models import NodeSnapshot
from livepeer_ai.gateway.models import Orchestrator


@dataclass
class ServiceCapacity:
    orchestrator: Orchestrator
    snapshot: NodeSnapshot | None
    capabilities: list[dict[str, Any]]

    @property
    def reachable(self) -> bool:
        return self.snapshot is not None and self.snapshot.reachable


def node_orchestrators(address: str) -> list[Orchestrator]:
    """Every service URI the node was seen at, with its snapshot: one query."""
    return list(Orchestrator.objects.filter(address__iexact=address).select_related("snapshot").order_by("service_uri"))


def node_capacity(orchestrators: list[Orchestrator]) -> list[ServiceCapacity]:
    found = []
    for orchestrator in orchestrators:
        snapshot = getattr(orchestrator, "snapshot", None)
        capabilities = snapshot.capabilities() if snapshot is not None else []
        found.append(ServiceCapacity(orchestrator, snapshot, capabilities))
    return found
