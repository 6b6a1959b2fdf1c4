"""A member's API keys: each key's usage and spend by UTC day and pipeline, its daily limit and webhook secret.

Keys are issued in the admin (their owner is a member); the figures are the ones
`GET /api/v1/usage` answers with (gateway/usage.py).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from livepeer_ai.gateway import usage
from livepeer_ai.gateway.models import ApiKey
from studio.access import member_required


@require_GET
@member_required
def api_keys(request: HttpRequest) -> HttpResponse:
    try:
        start, end = usage.period(
            usage.day_of("start", request.GET.get("start")), usage.day_of("end", request.GET.get("end"))
        )
    except (usage.NotADay, usage.BadPeriod) as exc:
        return render(request, "studio/api_keys.html", {"problem": str(exc), "keys": []}, status=400)
    keys = [
        {"key": key, "usage": usage.usage_of(key, start, end), "spend": usage.spend_today(key)}
        for key in ApiKey.objects.filter(owner_id=request.user.pk).order_by("revoked", "name", "id")
    ]
    return render(request, "studio/api_keys.html", {"keys": keys, "start": start, "end": end})
