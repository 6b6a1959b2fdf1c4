"""The moderators' page: entries waiting for review, open reports, hidden entries; and their actions."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from studio.access import staff_required
from studio.models import Entry, Report
from studio.moderation import MODERATOR_ACTIONS, dismiss


@require_GET
@staff_required
def moderation(request: HttpRequest) -> HttpResponse:
    entries = Entry.objects.select_related("round", "job__generation", "author")
    context = {
        "awaiting": entries.awaiting_review().order_by("created_at"),
        "reports": Report.objects.filter(resolved_at__isnull=True).select_related(
            "entry__job__generation", "entry__author", "entry__round", "reporter"
        ),
        "hidden": entries.filter(hidden=True).order_by("-hidden_at")[:50],
    }
    return render(request, "studio/moderation.html", context)


@require_POST
@staff_required
def moderate_entry(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in MODERATOR_ACTIONS:
        raise Http404("No such action.")
    entry = get_object_or_404(Entry, pk=pk)
    MODERATOR_ACTIONS[action](entry, request.user)
    return redirect("studio-moderation")


@require_POST
@staff_required
def dismiss_report(request: HttpRequest, pk: int) -> HttpResponse:
    dismiss(get_object_or_404(Report, pk=pk), request.user)
    return redirect("studio-moderation")
