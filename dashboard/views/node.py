from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.access import every_node, node_page
from dashboard.capacity import node_capacity, node_orchestrators
from dashboard.cloud_prices import load_cloud_prices
from dashboard.earnings import earnings_charts, node_earnings
from dashboard.forms import PricingForm, TicketFilterForm
from dashboard.gpu_hours import earnings_per_gpu_hour
from dashboard.models import Operator
from dashboard.performance import DEFAULT_PERIOD, PERIODS, node_stats
from dashboard.pricing import helper_rows
from dashboard.tickets import async_lines, csv_lines, filtered, page_of
from livepeer_ai.htmx import HtmxHttpRequest
from livepeer_ai.payments.eth_usd import current_rate
from livepeer_ai.payments.models import ReceivedTicket


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Operators go to their node; admins see every node; members learn how operators sign in."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("dashboard-login"))
    operator = Operator.of(request.user)
    if operator is not None and not request.user.is_staff:
        return redirect("dashboard-node", operator.address)
    nodes = every_node() if request.user.is_staff else []
    return render(request, "dashboard/index.html", {"nodes": nodes})


@require_GET
@node_page
def node(request: HtmxHttpRequest, address: str) -> HttpResponse:
    period = request.GET.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        return HttpResponse(f"period must be one of {', '.join(PERIODS)}", status=400, content_type="text/plain")
    pricing = PricingForm(request.GET, gpu_prices=[p for p in load_cloud_prices() if p.usd_per_gpu_hour is not None])
    now = timezone.now()
    orchestrators = node_orchestrators(address)
    earnings = node_earnings(address, period, now)
    gpu_hours = earnings_per_gpu_hour(address, [o.id for o in orchestrators], now - PERIODS[period])
    context = {
        "node": address,
        "period": period,
        "periods": list(PERIODS),
        "services": node_capacity(orchestrators),
        "stats": node_stats([o.id for o in orchestrators], now - PERIODS[period]),
        "earnings": earnings,
        "charts": earnings_charts(earnings, period),
        "gpu_hours": gpu_hours,
        "pricing": pricing,
        "pricing_rows": helper_rows(pricing, gpu_hours.pipelines, current_rate().usd_per_eth),
        "recent_tickets": ReceivedTicket.objects.filter(recipient=address).order_by("-received_at", "-id")[:10],
    }
    template = "dashboard/operator.html#period" if request.htmx else "dashboard/operator.html"
    return render(request, template, context, status=200 if pricing.is_valid() else 400)


@require_GET
@node_page
def tickets(request: HtmxHttpRequest, address: str) -> HttpResponse:
    form = TicketFilterForm(request.GET)
    template = "dashboard/tickets.html#results" if request.htmx else "dashboard/tickets.html"
    if not form.is_valid():
        return render(request, template, {"node": address, "form": form, "page": None}, status=400)
    page = page_of(filtered(address, form), form.cleaned_data.get("page") or 1)
    return render(request, template, {"node": address, "form": form, "page": page, "query": form.query_without_page()})


@require_GET
@node_page
def tickets_csv(request: HttpRequest, address: str) -> HttpResponseBase:
    """Every ticket matching the filter, streamed as CSV (read in chunks, never all in memory)."""
    form = TicketFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{field or 'filter'}: {' '.join(map(str, e))}" for field, e in form.errors.items())
        return HttpResponse(f"Bad filter: {errors}", status=400, content_type="text/plain")
    response = StreamingHttpResponse(async_lines(csv_lines(filtered(address, form))), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="tickets-{address}.csv"'
    return response
