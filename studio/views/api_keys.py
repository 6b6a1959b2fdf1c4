"""A member's API keys: each key's usage and spend by UTC day and pipeline, its daily limit and webhook secret.

Keys are issued in the admin (their owner is a member); the figures are the ones
`GET /api/v1/usage` answers with (gateway/usage.py).
"""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from livepeer_ai.gateway import usage
from livepeer_ai.gateway.models import ApiKey
from studio.access import member_required


def asked_day(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise usage.BadPeriod(f"{name} must be a day as YYYY-MM-DD, got {raw[:20]!r}.") from None


@require_GET
@member_required
def api_keys(request: HttpRequest) -> HttpResponse:
    try:
        start, end = usage.period(asked_day(request, "start"), asked_day(request, "end"))
    except usage.BadPeriod as exc:
        return render(request, "studio/api_keys.html", {"problem": str(exc), "keys": []}, status=400)
    keys = [
        {"key": key, "usage": usage.usage_of(key, start, end), "spend": usage.spend_today(key)}
        for key in ApiKey.objects.filter(owner_id=request.user.pk).order_by("revoked", "name", "id")
    ]
    return render(request, "studio/api_keys.html", {"keys": keys, "start": start, "end": end})
