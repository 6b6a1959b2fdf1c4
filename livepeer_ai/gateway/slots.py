"""The gateway's own ledger of slots: what each node can take right now, without asking it.

A node's free slots for a capability are its advertised capacity, less the
stages this gateway runs there now (`QueuedStage` rows in state running: a slot
is reserved by the dispatch that creates one and released when the stage ends),
less what the node is busy with for others. That last part is reconciled with
the node's /info, `in_use` minus the stages of ours it could have counted, and
with a 503 answer, after which the node counts as full until our own stages
there end or its next /info says otherwise. So a slot that frees is known free
the moment our stage ends, not at the next /info refresh.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from livepeer_ai.gateway.models import (
    AttemptOutcome,
    EngineWorker,
    Orchestrator,
    QueuedStage,
    QueueState,
    StageAttempt,
)
from livepeer_ai.gateway.selection import Candidate, PriceCap

# Attempts per node the latency and success rate are measured over.
RECENT_ATTEMPTS = 20
# Measured latency and success rates are re-read at most this often per process.
MEASURED_TTL_S = 2.0
# What a node is busy with for others, written into its stored /info per capability.
BUSY_ELSEWHERE = "busy_elsewhere"


def price_cap() -> PriceCap | None:
    if not settings.MAX_PRICE_PER_UNIT:
        return None
    return PriceCap(settings.MAX_PRICE_PER_UNIT, settings.MAX_PRICE_PIXELS_PER_UNIT)


def known_window() -> timedelta:
    """A node whose /info is older than this is no longer in the network as far as dispatch goes."""
    return timedelta(seconds=max(30.0, 3 * settings.ORCHESTRATOR_INFO_TTL_S))


def network_known() -> bool:
    """Whether some engine has looked at the whole network lately, so 'nobody sells it' can be said."""
    return EngineWorker.objects.filter(refreshed_at__gte=timezone.now() - known_window()).exists()


def may_be_sold(pipeline: str, model_id: str) -> bool:
    """Whether some known node offers the capability, or may: one never heard from could sell anything.

    A node that went unreachable still counts by what it last said it sells: it may come back.
    """
    for node in Orchestrator.objects.filter(info_fetched_at__gte=timezone.now() - known_window()):
        if node.capability(pipeline, model_id) is not None:
            return True
        if not node.reachable and not node.info.get("capabilities"):
            return True
    return False


def ours_running(pipeline: str, model_id: str) -> dict[int, int]:
    rows = (
        QueuedStage.objects.filter(state=QueueState.RUNNING, pipeline=pipeline, model_id=model_id)
        .exclude(orchestrator=None)
        .values("orchestrator")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["orchestrator"]: row["n"] for row in rows}


def candidates(
    pipeline: str, model_id: str, known: set[str] | None = None, held: Collection[str] = ()
) -> tuple[list[Candidate], dict[str, Orchestrator]]:
    """Every live node offering (pipeline, model), with its free slots as this gateway's ledger has them.

    `known`: the service URIs the caller's discovery found (an engine's last look at the
    network), so a node dropped from it is not sent work while its /info is still fresh.
    `held`: service URIs the caller sends nothing to for now.
    """
    now = timezone.now()
    nodes = Orchestrator.objects.filter(reachable=True, info_fetched_at__gte=now - known_window())
    if known is not None:
        nodes = nodes.filter(service_uri__in=known)
    if held:
        nodes = nodes.exclude(service_uri__in=list(held))
    offering = [(node, offered) for node in nodes if (offered := node.capability(pipeline, model_id)) is not None]
    if not offering:
        return [], {}
    ours = ours_running(pipeline, model_id)
    scores = measured(pipeline, model_id)
    found = []
    for node, offered in offering:
        latency, success_rate = scores.get(node.id, (None, 0.5))
        found.append(
            Candidate(
                key=node.service_uri,
                warm=bool(offered.get("warm", False)),
                capacity=int(offered.get("capacity", 0)),
                in_use=ours.get(node.id, 0) + int(offered.get(BUSY_ELSEWHERE, 0)),
                price_per_unit=int(offered.get("price_per_unit", 0)),
                pixels_per_unit=int(offered.get("pixels_per_unit", 1)) or 1,
                latency_score=latency,
                success_rate=success_rate,
                suspended=node.is_suspended(now),
            )
        )
    return found, {node.service_uri: node for node, _ in offering}


def reserve(candidate: Candidate) -> Candidate:
    return replace(candidate, in_use=candidate.in_use + 1)


_measured: dict[tuple[str, str], tuple[float, dict[int, tuple[float | None, float]]]] = {}


def measured(pipeline: str, model_id: str) -> dict[int, tuple[float | None, float]]:
    """Per node id: (seconds per unit·step over recent successes, smoothed recent success rate)."""
    cached = _measured.get((pipeline, model_id))
    if cached is not None and time.monotonic() - cached[0] < MEASURED_TTL_S:
        return cached[1]
    recent = (
        StageAttempt.objects.filter(
            pipeline=pipeline,
            model_id=model_id,
            orchestrator__isnull=False,
            outcome__in=[AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED],
        )
        .order_by("-started_at")
        .values_list("orchestrator_id", "outcome", "took_s", "units", "steps")[: RECENT_ATTEMPTS * 16]
    )
    by_node: dict[int, list[tuple[str, float | None, int, int]]] = {}
    for node_id, outcome, took, units, steps in recent:
        rows = by_node.setdefault(node_id, [])
        if len(rows) < RECENT_ATTEMPTS:
            rows.append((outcome, took, units, steps))
    scores: dict[int, tuple[float | None, float]] = {}
    for node_id, rows in by_node.items():
        latencies = [
            took / (units * max(steps, 1))
            for outcome, took, units, steps in rows
            if outcome == AttemptOutcome.SUCCEEDED and took and units
        ]
        successes = sum(1 for outcome, *_ in rows if outcome == AttemptOutcome.SUCCEEDED)
        # Laplace smoothing: a node with little history is neither trusted nor shunned.
        scores[node_id] = (
            sum(latencies) / len(latencies) if latencies else None,
            (successes + 1) / (len(rows) + 2),
        )
    _measured[(pipeline, model_id)] = (time.monotonic(), scores)
    return scores


def mark_full(node_id: int, pipeline: str, model_id: str) -> None:
    """The node answered 503: whatever we do not run there is busy for others, until /info says otherwise."""
    node = Orchestrator.objects.filter(id=node_id).first()
    if node is None:
        return
    ours = ours_running(pipeline, model_id).get(node_id, 0)
    for offered in node.info.get("capabilities", []):
        if offered.get("pipeline") == pipeline and offered.get("model_id") == model_id:
            offered[BUSY_ELSEWHERE] = max(0, int(offered.get("capacity", 0)) - ours)
    node.save(update_fields=["info"])


def running_by_node() -> dict[int, dict[str, int]]:
    """Per node id, per "pipeline model": stages of ours running there now."""
    rows = (
        QueuedStage.objects.filter(state=QueueState.RUNNING)
        .exclude(orchestrator=None)
        .values("orchestrator", "pipeline", "model_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["orchestrator"], {})[f"{row['pipeline']} {row['model_id']}"] = row["n"]
    return counts


def ours_during(node: Orchestrator, running_at_send: dict[str, int], sent_at: datetime) -> dict[str, int]:
    """What of ours the node may have counted in an /info asked for at `sent_at`: running then, or started since.

    An upper bound: counting too many of ours at worst lets a 503 correct it; too few would idle a slot.
    """
    started = (
        StageAttempt.objects.filter(orchestrator=node, started_at__gte=sent_at)
        .values("pipeline", "model_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict(running_at_send)
    for row in started:
        key = f"{row['pipeline']} {row['model_id']}"
        counts[key] = counts.get(key, 0) + row["n"]
    return counts


def reconcile(info: dict[str, Any], ours: dict[str, int]) -> None:
    """Write each capability's busy-for-others count into a freshly checked /info."""
    for offered in info.get("capabilities", []):
        key = f"{offered.get('pipeline')} {offered.get('model_id')}"
        offered[BUSY_ELSEWHERE] = max(0, int(offered.get("in_use", 0)) - int(ours.get(key, 0)))
