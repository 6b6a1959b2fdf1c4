"""Model curation pages in the dashboard: the registry list, an entry with its audit trail,
the operators' proposal form, and the curators' approve/disable buttons."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from livepeer_ai.htmx import HtmxHttpRequest
from livepeer_ai.registry import curation
from livepeer_ai.registry.forms import ModelFilterForm, ProposeForm, StatusForm
from livepeer_ai.registry.models import ModelEntry

PAGE_SIZE = 50


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "registry/forbidden.html", {"message": message}, status=403)


@require_GET
def model_list(request: HtmxHttpRequest) -> HttpResponse:
    form = ModelFilterForm(request.GET)
    entries = curation.visible_entries(request.user)
    valid = form.is_valid()
    page = Paginator(form.filter(entries) if valid else entries.none(), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "can_propose": curation.can_propose(request.user)}
    template = "registry/model_list.html#model-table" if request.htmx else "registry/model_list.html"
    return render(request, template, context, status=200 if valid else 400)


def detail_context(request: HttpRequest, entry: ModelEntry, status_form: StatusForm | None = None) -> dict[str, object]:
    return {
        "entry": entry,
        "audit": entry.audit.select_related("actor")[:100],
        "can_curate": curation.can_curate(request.user),
        "transitions": sorted(curation.TRANSITIONS[entry.status]),
        "status_form": status_form or StatusForm(),
    }


@require_GET
def model_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(curation.visible_entries(request.user), pk=entry_id)
    return render(request, "registry/model_detail.html", detail_context(request, entry))


@login_required
@require_POST
def change_status(request: HtmxHttpRequest, entry_id: int) -> HttpResponse:
    if not curation.can_curate(request.user):
        return forbidden(request, "Only admins may approve or disable models.")
    entry = get_object_or_404(ModelEntry.objects.select_related("proposed_by"), pk=entry_id)
    form = StatusForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            curation.change_status(entry, request.user, form.cleaned_data["to"], form.cleaned_data["note"])
        except curation.CurationError as exc:
            form.add_error(None, str(exc))
            status = 400
    else:
        status = 400
    if request.htmx or status != 200:
        template = "registry/model_detail.html#curation" if request.htmx else "registry/model_detail.html"
        context = detail_context(request, entry, form if status != 200 else None)
        return render(request, template, context, status=status)
    messages.success(request, f"{entry} is now {entry.get_status_display().lower()}.")
    return redirect(entry)


# Proposers are operators, who sign in with their node's key (SIWE), not with a password.
@login_required(login_url="dashboard-login")
@require_http_methods(["GET", "POST"])
def propose(request: HttpRequest) -> HttpResponse:
    if not curation.can_propose(request.user):
        return forbidden(
            request, "Only orchestrator operators (signed in with their node's address) and admins may propose models."
        )
    form = ProposeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = curation.propose(request.user, form.registry_fields(), note=form.cleaned_data["note"])
        except curation.CurationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Proposed {entry}; it runs once a curator approves it.")
            return redirect(entry)
    return render(request, "registry/propose.html", {"form": form}, status=400 if form.is_bound else 200)
