"""Prometheus metrics of the gateway, at GET /metrics, computed from the database at scrape time.

Every number here is durable (jobs, stage attempts, credit at orchestrators), so
any web process answers the same and a restart loses nothing. Names follow
go-livepeer's (monitor/census.go, namespace `livepeer`) where it has one; ours
are marked. Counters carry Prometheus' `_total` suffix on the sample.

- `livepeer_ai_models_requested{pipeline,model_name}`: stage requests sent to orchestrators;
- `livepeer_ai_request_errors{pipeline,model_name,error_code}`: those that failed or were
  refused (`insufficient_capacity`, `runner_<status>` as the job's error code says it);
- `livepeer_ai_request_latency_score{pipeline,model_name}`: the last successful request's
  seconds per output pixel per step (go-livepeer: seconds / pixels / (images × steps));
- `livepeer_tickets_sent{recipient,manifestID}`: tickets paid to each orchestrator;
- ours: `livepeer_ai_jobs{status,error_code}`, `livepeer_ai_queue_length{pipeline,model_name}`,
  `livepeer_ai_stage_attempts{pipeline,model_name,outcome}`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from livepeer_ai.gateway.models import AttemptOutcome, Job, StageAttempt
from livepeer_ai.gateway.queue import waiting_counts
from livepeer_ai.messages import error_body
from livepeer_ai.payments.models import OrchestratorCredit

AI_LABELS = ["pipeline", "model_name"]
FAILED_OUTCOMES = [AttemptOutcome.FAILED, AttemptOutcome.NO_CAPACITY, AttemptOutcome.REJECTED]


def attempt_error_code(outcome: str, status_code: int | None) -> str:
    if outcome == AttemptOutcome.NO_CAPACITY:
        return "insufficient_capacity"
    return f"runner_{status_code}" if status_code else outcome


class GatewayCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self.requests()
        yield self.latency_scores()
        yield from self.jobs()
        yield self.tickets_sent()

    def requests(self) -> Iterator[Metric]:
        requested = CounterMetricFamily(
            "livepeer_ai_models_requested", "Stage requests sent to orchestrators.", labels=AI_LABELS
        )
        attempts = GaugeMetricFamily(
            "livepeer_ai_stage_attempts",
            "Stage attempts by outcome (blank: in flight).",
            labels=[*AI_LABELS, "outcome"],
        )
        errors = CounterMetricFamily(
            "livepeer_ai_request_errors",
            "Stage requests that failed or were refused.",
            labels=[*AI_LABELS, "error_code"],
        )
        sent = StageAttempt.objects.exclude(orchestrator=None)
        totals: dict[tuple[str, str], int] = {}
        for row in sent.values("pipeline", "model_id", "outcome").annotate(count=Count("id")):
            key = (row["pipeline"], row["model_id"])
            totals[key] = totals.get(key, 0) + row["count"]
            attempts.add_metric([*key, row["outcome"]], row["count"])
        for (pipeline, model), count in sorted(totals.items()):
            requested.add_metric([pipeline, model], count)
        codes: dict[tuple[str, str, str], int] = {}
        for row in (
            sent.filter(outcome__in=FAILED_OUTCOMES)
            .values("pipeline", "model_id", "outcome", "status_code")
            .annotate(count=Count("id"))
        ):
            labels = (row["pipeline"], row["model_id"], attempt_error_code(row["outcome"], row["status_code"]))
            codes[labels] = codes.get(labels, 0) + row["count"]
        for labels, count in sorted(codes.items()):
            errors.add_metric(list(labels), count)
        yield from (requested, errors, attempts)

    def latency_scores(self) -> Metric:
        scores = GaugeMetricFamily(
            "livepeer_ai_request_latency_score",
            "Last successful request: seconds per output pixel per inference step.",
            labels=AI_LABELS,
        )
        scored = StageAttempt.objects.exclude(orchestrator=None).filter(
            outcome=AttemptOutcome.SUCCEEDED, units__gt=0, took_s__isnull=False
        )
        latest = scored.values("pipeline", "model_id").annotate(at=Max("started_at"))
        if not latest:
            return scores
        which = Q()
        for row in latest:
            which |= Q(pipeline=row["pipeline"], model_id=row["model_id"], started_at=row["at"])
        seen: set[tuple[str, str]] = set()
        for attempt in scored.filter(which).only("pipeline", "model_id", "took_s", "units", "steps"):
            key = (attempt.pipeline, attempt.model_id)
            if key not in seen:
                seen.add(key)
                took_s = attempt.took_s or 0.0  # never null: `scored` keeps timed attempts only
                scores.add_metric(list(key), took_s / attempt.units / max(attempt.steps, 1))
        return scores

    def jobs(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("livepeer_ai_jobs", "Jobs by status and error code.", labels=["status", "error_code"])
        for row in Job.objects.values("status", "error_code").annotate(count=Count("id")).order_by():
            jobs.add_metric([row["status"], row["error_code"]], row["count"])
        queue = GaugeMetricFamily("livepeer_ai_queue_length", "Jobs waiting in the gateway queue.", labels=AI_LABELS)
        for (pipeline, model), count in waiting_counts().items():
            queue.add_metric([pipeline, model], count)
        yield jobs
        yield queue

    def tickets_sent(self) -> Metric:
        sent = CounterMetricFamily(
            "livepeer_tickets_sent", "Tickets sent to each orchestrator.", labels=["recipient", "manifestID"]
        )
        for row in OrchestratorCredit.objects.values("recipient", "manifest_id").annotate(n=Sum("tickets_sent")):
            sent.add_metric([row["recipient"], row["manifest_id"]], row["n"] or 0)
        return sent


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(GatewayCollector())


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """Why this scrape is refused, or None. The numbers tell how busy and how paid the network is: with
    METRICS_TOKEN set a scraper sends it as a Bearer token; without one they are open only under DEBUG."""
    token = settings.METRICS_TOKEN
    if not token:
        if settings.DEBUG:
            return None
        msg = "Metrics are closed: this gateway has no METRICS_TOKEN for scrapers to send."
        return JsonResponse(error_body(msg), status=403)
    if not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        response = JsonResponse(error_body("Invalid bearer token."), status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return None


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refused = scrape_refusal(request)
    if refused is not None:
        return refused
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
