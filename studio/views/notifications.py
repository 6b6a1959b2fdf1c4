"""A member's notifications: what moderators did to their entries; opening the list reads them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from studio import notifications


@require_GET
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    shown = notifications.latest(request.user)
    # Read now: the list says which were new, the nav's count is gone from the next page on.
    notifications.mark_read(request.user)
    return render(request, "studio/notifications.html", {"notifications": shown})
