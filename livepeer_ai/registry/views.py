"""Model curation pages in the dashboard: the registry list, an entry with its audit trail,
the operators' proposal form, and the curators' approve/disable buttons (shared with the
LoRA pages, registry/lora_views.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from livepeer_ai.htmx import HtmxHttpRequest
from livepeer_ai.registry import curation
from livepeer_ai.registry.forms import ListFilterForm, LoraProposeForm, ModelFilterForm, ProposeForm, StatusForm
from livepeer_ai.registry.models import LoraEntry, ModelEntry

PAGE_SIZE = 50


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "registry/forbidden.html", {"message": message}, status=403)


@require_GET
def model_list(request: HtmxHttpRequest) -> HttpResponse:
    entries = curation.visible_entries(request.user)
    return entry_list(request, ModelFilterForm(request.GET), entries, "registry/model_list.html", "model-table")


def entry_list(
    request: HtmxHttpRequest, form: ListFilterForm, entries: QuerySet[Any], template: str, table: str
) -> HttpResponse:
    """A registry list (models or LoRAs), filtered and paged; htmx gets only its `table` partial.
    Filters that do not validate are a 400 with the form's errors and no entries."""
    valid = form.is_valid()
    page = Paginator(form.filter(entries) if valid else entries.none(), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "can_propose": curation.can_propose(request.user)}
    return render(request, f"{template}#{table}" if request.htmx else template, context, status=200 if valid else 400)


# What each status means for an entry, under its status on its page.
STATUS_HELP = {
    "model": {
        "approved": "The gateway routes this model and orchestrators advertise it.",
        "pending": "Not routed until a curator approves it.",
        "disabled": "The gateway refuses requests for this model and orchestrators no longer advertise it.",
    },
    "lora": {
        "approved": "Requests may name this LoRA; runners of its base model load it when asked.",
        "pending": "Requests naming it are refused until a curator approves it.",
        "disabled": "The gateway and runners refuse requests that name this LoRA.",
    },
}


def detail_context(
    request: HttpRequest, entry: curation.Entry, status_form: StatusForm | None = None
) -> dict[str, object]:
    kind = "lora" if isinstance(entry, LoraEntry) else "model"
    return {
        "entry": entry,
        "audit": entry.audit.select_related("actor")[:100],
        "can_curate": curation.can_curate(request.user),
        "transitions": sorted(curation.TRANSITIONS[entry.status]),
        "status_form": status_form or StatusForm(),
        "status_url": reverse(f"registry:{kind}-status", args=[entry.pk]),
        "help": STATUS_HELP[kind],
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
    return curate(request, entry, "registry/model_detail.html")


def curate(request: HtmxHttpRequest, entry: curation.Entry, template: str) -> HttpResponse:
    """A curator's approve/disable of a model or a LoRA: the curation partial for htmx, else back to the entry."""
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
        context = detail_context(request, entry, form if status != 200 else None)
        return render(request, f"{template}#curation" if request.htmx else template, context, status=status)
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
    return proposal(request, form, curation.propose, {"what": "model", "list_url": reverse("registry:model-list")})


def proposal(
    request: HttpRequest,
    form: ProposeForm | LoraProposeForm,
    propose: Callable[..., curation.Entry],
    context: dict[str, str],
) -> HttpResponse:
    """The proposal form of a model or a LoRA: the new pending entry's page once it is valid."""
    if request.method == "POST" and form.is_valid():
        try:
            entry = propose(request.user, form.registry_fields(), note=form.cleaned_data["note"])
        except curation.CurationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Proposed {entry}; it runs once a curator approves it.")
            return redirect(entry)
    page: dict[str, object] = {"form": form, "action": request.path, **context}
    return render(request, "registry/propose.html", page, status=400 if form.is_bound else 200)
