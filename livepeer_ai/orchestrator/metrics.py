"""Prometheus metrics of one orchestrator node, at GET /metrics (an operator route: operator_access).

Names follow go-livepeer's (monitor/census.go, namespace `livepeer`) where it has
one; ours are marked below. Counters carry Prometheus' `_total` suffix on the
sample, as prometheus-client writes them. Labels: `pipeline`, `model_name` and
`error_code` for the AI metrics, `sender` and `manifestID` for tickets, as
go-livepeer tags them.

- live, from the node's own state since it started: requests and errors per
  capability, containers in use and idle, the asking price, what is advertised;
- durable, from the database at scrape time: tickets received and won, their
  expected value, value redeemed and redemption errors (go-livepeer reports
  ticket values in gwei; so do we).

Each node has its own registry (no global default one), so several nodes can run
in one process, as the tests do.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Count, F, FloatField, Q, Sum
from django.db.models.functions import Cast
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from livepeer_ai.orchestrator.operator_access import admin_token, refusal
from livepeer_ai.payments.models import ReceivedTicket, RedemptionStatus

if TYPE_CHECKING:
    from livepeer_ai.orchestrator.config import NodeConfig
    from livepeer_ai.orchestrator.curation import RegistryApprovals
    from livepeer_ai.orchestrator.supervisor import Supervisor

Key = tuple[str, str]
GWEI = 10**9
AI_LABELS = ["pipeline", "model_name"]
TICKET_LABELS = ["sender", "manifestID"]


class NodeMetrics:
    """The node's live counters since it started: requests per capability and errors by code.

    Only the event loop writes them; a scrape reads copies.
    """

    def __init__(self) -> None:
        self.requests: Counter[Key] = Counter()
        self.errors: Counter[tuple[Key, str]] = Counter()

    def requested(self, key: Key) -> None:
        self.requests[key] += 1

    def failed(self, key: Key, code: str) -> None:
        self.errors[(key, code)] += 1


class MeasuredNode(Protocol):
    """What the metrics read of a node (`orchestrator.node.Node`, which imports this module)."""

    @property
    def address(self) -> str: ...
    @property
    def metrics(self) -> NodeMetrics: ...
    @property
    def config(self) -> NodeConfig: ...
    @property
    def supervisor(self) -> Supervisor: ...
    @property
    def approvals(self) -> RegistryApprovals | None: ...


def error_code(outcome: str) -> str:
    """A job outcome as an error code: a runner's HTTP status becomes `runner_<status>`, as the gateway names it."""
    return f"runner_{outcome}" if outcome.isdigit() else outcome


class NodeCollector(Collector):
    def __init__(self, node: MeasuredNode) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        yield from self.live()
        yield from tickets_received(self.node.address)

    def live(self) -> Iterator[Metric]:
        node = self.node
        requested = CounterMetricFamily(
            "livepeer_ai_models_requested", "AI requests received, per capability.", labels=AI_LABELS
        )
        for (pipeline, model), count in node.metrics.requests.copy().items():
            requested.add_metric([pipeline, model], count)
        errors = CounterMetricFamily(
            "livepeer_ai_request_errors",
            "AI requests that failed or were refused, by error code.",
            labels=[*AI_LABELS, "error_code"],
        )
        for ((pipeline, model), code), count in node.metrics.errors.copy().items():
            errors.add_metric([pipeline, model, code], count)
        in_use = GaugeMetricFamily("livepeer_ai_container_in_use", "Runners busy with a job.", labels=AI_LABELS)
        idle = GaugeMetricFamily("livepeer_ai_container_idle", "Runners ready and free.", labels=AI_LABELS)
        price = GaugeMetricFamily(
            "livepeer_ai_request_price",
            "Asking price in wei per pixel (price_per_unit / pixels_per_unit).",
            labels=AI_LABELS,
        )
        # Ours: whether the registry approves the capability, so that the node sells it.
        advertised = GaugeMetricFamily(
            "livepeer_ai_capability_advertised",
            "1 if the capability is approved and advertised, else 0.",
            labels=AI_LABELS,
        )
        approved = node.approvals.current if node.approvals is not None else None
        for capability in node.config.capabilities:
            labels = [capability.pipeline, capability.model_id]
            ready, busy = node.supervisor.capacity(capability.key)
            in_use.add_metric(labels, busy)
            idle.add_metric(labels, ready - busy)
            price.add_metric(labels, capability.price_per_unit / capability.pixels_per_unit)
            advertised.add_metric(labels, 1 if approved is None or capability.key in approved else 0)
        yield from (requested, errors, in_use, idle, price, advertised)


def tickets_received(recipient: str) -> Iterator[Metric]:
    """go-livepeer's ticket metrics, computed from the tickets this node stored (payments.ReceivedTicket)."""
    received = CounterMetricFamily("livepeer_tickets_recv", "Valid tickets received.", labels=TICKET_LABELS)
    value = CounterMetricFamily(
        "livepeer_ticket_value_recv", "Expected value of the tickets received, in gwei.", labels=TICKET_LABELS
    )
    won = CounterMetricFamily("livepeer_winning_tickets_recv", "Winning tickets received.", labels=TICKET_LABELS)
    tickets = ReceivedTicket.objects.filter(recipient=recipient)
    # Wei are stored as text; summed as floats, which is what a metric is anyway.
    for row in tickets.values("sender", "manifest_id").annotate(
        count=Count("id"),
        winning=Count("id", filter=Q(winning=True)),
        ev=Sum(Cast("expected_value", FloatField())),
    ):
        labels = [row["sender"], row["manifest_id"]]
        received.add_metric(labels, row["count"])
        value.add_metric(labels, (row["ev"] or 0.0) / GWEI)
        won.add_metric(labels, row["winning"])
    redeemed_gwei, redemption_errors = 0.0, 0
    # Ours: winning tickets by where their redemption stands.
    by_status = GaugeMetricFamily(
        "livepeer_winning_tickets", "Winning tickets by redemption status.", labels=["status"]
    )
    for row in (
        tickets.filter(winning=True)
        .values("status")
        .annotate(count=Count("id"), attempts=Sum("attempts"), face=Sum(Cast(F("face_value"), FloatField())))
    ):
        by_status.add_metric([row["status"]], row["count"])
        attempts = row["attempts"] or 0
        if row["status"] == RedemptionStatus.REDEEMED:
            redeemed_gwei += (row["face"] or 0.0) / GWEI
        # Every attempt failed unless the ticket ended redeemed, in flight or skipped, where the last did not.
        if row["status"] in {RedemptionStatus.PENDING, RedemptionStatus.FAILED}:
            redemption_errors += attempts
        else:
            redemption_errors += max(0, attempts - row["count"])
    yield received
    yield value
    yield won
    yield CounterMetricFamily(
        "livepeer_value_redeemed", "Face value of winning tickets redeemed, in gwei.", value=redeemed_gwei
    )
    yield CounterMetricFamily(
        "livepeer_ticket_redemption_errors", "Redemption attempts that failed.", value=redemption_errors
    )
    yield by_status


def add_metrics_route(app: FastAPI, node: MeasuredNode) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node))

    def render() -> bytes:
        try:
            return generate_latest(registry)
        finally:
            close_old_connections()

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        # An operator route (the node's earnings): the admin token, or METRICS_TOKEN for a scraper that
        # should not also read the runners' logs; with neither set, only from the node's own machine.
        refused = refusal(request, [admin_token(), settings.METRICS_TOKEN])
        if refused is not None:
            return refused
        # The ticket metrics read the database: off the event loop.
        return Response(await asyncio.to_thread(render), media_type=CONTENT_TYPE_LATEST)
