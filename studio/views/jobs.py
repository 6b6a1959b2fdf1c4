"""Making a GIF: the prompt page, the job page (live over the WebSocket), cancel, retry, enter."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from livepeer_ai.gateway.models import Job
from livepeer_ai.htmx import HtmxHttpRequest
from studio import alt_text, remix
from studio.access import member_required, refused
from studio.creation import QUOTA_RULE, Limits, retry_generation, start_generation
from studio.entries import enter_round
from studio.forms import AltTextForm, MyGifsFilter, PromptForm
from studio.image_models import offered_models
from studio.models import Generation, Round
from studio.my_gifs import member_gifs, member_rounds
from studio.ratelimits import rate_limited
from studio.refusals import Refused
from studio.results import describe_job, studio_job
from studio.rounds import current_round

MY_GIFS_PAGE_SIZE = 12
# The home page's strip of the round's best GIFs.
STRIP_SIZE = 8


def _studio_context(request: HttpRequest, round: Round | None) -> dict[str, Any]:
    member = request.user if request.user.is_authenticated else None
    return {
        "round": round,
        "best_entries": round.leading_entries(STRIP_SIZE) if round else [],
        "generations_left": round.generations_left(member) if round and member else None,
        "quota_rule": QUOTA_RULE,
        "recent": Generation.objects.filter(member=member).select_related("job")[:8] if member else [],
    }


def _go(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    round = current_round()
    limits, models = Limits.of(round), offered_models(round)
    asked, initial = remix.requested(request.GET), None
    if asked is not None:
        initial = remix.prefill(asked[1], asked[0], request.user, limits)
    form = PromptForm(initial=initial, limits=limits, models=models)
    context = {"form": form, "prefilled": asked and (asked[0] if initial is not None else "refused")}
    return render(request, "studio/index.html", {**context, **_studio_context(request, round)})


@require_POST
@member_required
@rate_limited("studio:create", "STUDIO_CREATE_RATE")
def create_job(request: HtmxHttpRequest) -> HttpResponse:
    round = current_round()
    form = PromptForm(request.POST, limits=Limits.of(round), models=offered_models(round))
    status = 400
    if form.is_valid():
        try:
            generation = start_generation(request.user, form.choices())
        except Refused as refusal:
            form.add_error(None, refusal.message)
            status = refusal.status
        else:
            return _go(request, generation.job.get_absolute_url())
    template = "studio/index.html#prompt-form" if request.htmx else "studio/index.html"
    return render(request, template, {"form": form, **_studio_context(request, round)}, status=status)


@require_GET
@login_required
def my_gifs(request: HttpRequest) -> HttpResponse:
    filters = MyGifsFilter(request.GET, rounds=member_rounds(request.user))
    chosen = filters.filters()
    gifs = member_gifs(request.user, round_slug=chosen["round"], status=chosen["status"])
    page = Paginator(gifs, MY_GIFS_PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({name: value for name, value in chosen.items() if value})
    return render(request, "studio/my_gifs.html", {"filters": filters, "page": page, "query": query})


@require_GET
def job_detail(request: HtmxHttpRequest, job_id: str) -> HttpResponse:
    job = studio_job(job_id, request.user)
    if job is None:
        raise Http404("No such job.")
    template = "studio/job.html#job-progress" if request.htmx else "studio/job.html"
    return render(request, template, {"job": job, "view": describe_job(job, request.user)})


def _owned_job(request: HttpRequest, job_id: str) -> Job:
    """The job, if the signed-in member made it; others learn nothing about it."""
    job = get_object_or_404(Job, id=job_id)
    if job.owner_id != request.user.pk:
        raise Http404("No job of yours has that id.")
    return job


@require_POST
@member_required
def cancel_job(request: HtmxHttpRequest, job_id: str) -> HttpResponse:
    job = _owned_job(request, job_id)
    job.cancel()
    if request.htmx:
        return render(request, "studio/job.html#job-progress", {"job": job, "view": describe_job(job, request.user)})
    return redirect(job.get_absolute_url())


@require_POST
@member_required
@rate_limited("studio:create", "STUDIO_CREATE_RATE")
def retry_job(request: HtmxHttpRequest, job_id: str) -> HttpResponse:
    job = _owned_job(request, job_id)
    try:
        generation = retry_generation(job, request.user)
    except Refused as refusal:
        return refused(request, refusal.message, refusal.status)
    return _go(request, generation.job.get_absolute_url())


@require_POST
@member_required
def enter_job(request: HtmxHttpRequest, job_id: str) -> HttpResponse:
    job = _owned_job(request, job_id)
    try:
        entry = enter_round(job, request.user)
    except Refused as refusal:
        return refused(request, refusal.message, refusal.status)
    return _go(request, entry.get_absolute_url())


@require_POST
@member_required
def describe_gif(request: HttpRequest, job_id: str) -> HttpResponse:
    """The maker writes what screen readers say for their GIF."""
    job = _owned_job(request, job_id)
    generation = Generation.objects.filter(job=job).first()
    form = AltTextForm(request.POST)
    if generation is None or not form.is_valid():
        message = "Only a studio GIF has a description." if generation is None else form.first_error()
        return refused(request, message, 400)
    alt_text.describe_by_maker(generation, form.cleaned_data["alt_text"])
    return redirect(f"{job.get_absolute_url()}#result-gif")
