from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.charts import line_chart
from dashboard.cloud_comparison import compare
from dashboard.cloud_prices import load_cloud_prices
from dashboard.network import orchestrator_rows, recent_redemptions
from dashboard.performance import jobs_per_pipeline
from livepeer_ai.gateway.costs import job_costs

JOBS_DAYS = 14
COST_DAYS = 30


@require_GET
def network(request: HttpRequest) -> HttpResponse:
    """Public: orchestrators with stake, warm models, capacity and scores; jobs per pipeline; redemptions."""
    now = timezone.now()
    first_day = (now - timedelta(days=JOBS_DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    jobs = jobs_per_pipeline(first_day, now)
    description = f"Jobs served per pipeline per day over the last {JOBS_DAYS} days (UTC)."
    context = {
        "orchestrators": orchestrator_rows(now),
        "redemptions": recent_redemptions(),
        "on_chain": bool(settings.WEB3_PROVIDER_URI),
        "jobs": jobs,
        "jobs_chart": line_chart("chart-jobs", "Jobs per pipeline", description, jobs.labels, jobs.series),
    }
    return render(request, "dashboard/network.html", context)


@require_GET
def costs(request: HttpRequest) -> HttpResponse:
    """Public: what jobs cost here per pipeline, from the fees the gateway paid, beside the cloud's prices."""
    now = timezone.now()
    sample = job_costs(now - timedelta(days=COST_DAYS), now)
    context = {
        "costs": list(sample.pipelines.values()),
        "comparisons": compare(sample, load_cloud_prices()),
        "sample": sample,
        "days": COST_DAYS,
    }
    return render(request, "dashboard/costs.html", context)
