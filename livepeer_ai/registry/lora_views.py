"""LoRA curation pages, beside the models': the list, a LoRA with its audit trail, the proposal form,
and the curators' approve/disable buttons (the shared parts are in registry/views.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from livepeer_ai.htmx import HtmxHttpRequest
from livepeer_ai.registry import curation, loras
from livepeer_ai.registry.forms import LoraFilterForm, LoraProposeForm
from livepeer_ai.registry.models import LoraEntry
from livepeer_ai.registry.views import curate, detail_context, entry_list, forbidden, proposal


@require_GET
def lora_list(request: HtmxHttpRequest) -> HttpResponse:
    entries = loras.visible_loras(request.user)
    return entry_list(request, LoraFilterForm(request.GET), entries, "registry/lora_list.html", "lora-table")


@require_GET
def lora_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(loras.visible_loras(request.user), pk=entry_id)
    return render(request, "registry/lora_detail.html", detail_context(request, entry))


@login_required
@require_POST
def change_status(request: HtmxHttpRequest, entry_id: int) -> HttpResponse:
    if not curation.can_curate(request.user):
        return forbidden(request, "Only admins may approve or disable LoRAs.")
    entry = get_object_or_404(LoraEntry.objects.select_related("proposed_by"), pk=entry_id)
    return curate(request, entry, "registry/lora_detail.html")


@login_required(login_url="dashboard-login")
@require_http_methods(["GET", "POST"])
def propose(request: HttpRequest) -> HttpResponse:
    if not curation.can_propose(request.user):
        return forbidden(
            request, "Only orchestrator operators (signed in with their node's address) and admins may propose LoRAs."
        )
    form = LoraProposeForm(request.POST if request.method == "POST" else None)
    return proposal(request, form, loras.propose_lora, {"what": "LoRA", "list_url": reverse("registry:lora-list")})
