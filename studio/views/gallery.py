"""The competition in public: rounds, a round's gallery and leaderboard, entry pages, votes, reports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from livepeer_ai.htmx import HtmxHttpRequest
from studio.access import member_required
from studio.forms import ReportForm
from studio.models import Entry, Round
from studio.moderation import report_entry
from studio.ratelimits import rate_limited
from studio.refusals import Refused
from studio.sharing import share_card
from studio.voting import cast_vote, has_voted

PAGE_SIZE = 12
PAST_ROUNDS_PAGE_SIZE = 10
SORTS = {"votes": "most votes", "new": "newest"}


@require_GET
def rounds(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "live": Round.objects.not_over(now).filter(prompt_opens_at__lte=now).order_by("voting_closes_at"),
        "upcoming": Round.objects.filter(prompt_opens_at__gt=now).order_by("prompt_opens_at"),
        "past": Paginator(
            Round.objects.over(now).order_by("-voting_closes_at", "-pk").with_winners(), PAST_ROUNDS_PAGE_SIZE
        ).get_page(request.GET.get("page")),
    }
    return render(request, "studio/rounds.html", context)


@require_GET
def round_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    round = get_object_or_404(Round, slug=slug)
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "votes"
    entries = round.entries.public().select_related("job__generation", "author")
    entries = entries.ranked() if sort == "votes" else entries.order_by("-created_at", "-id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"round": round, "page": page, "sort": sort, "sorts": SORTS}
    if request.htmx and request.GET.get("page"):
        return render(request, "studio/round.html#entry-page", context)
    context["leaderboard"] = round.entries.public().select_related("author", "job__generation").ranked()[:10]
    return render(request, "studio/round.html", context)


def _visible_entry(request: HttpRequest, pk: int) -> Entry:
    entry = get_object_or_404(Entry.objects.select_related("round", "job__generation", "author"), pk=pk)
    if not entry.visible_to(request.user):
        raise Http404("No such entry.")
    return entry


def _entry_context(request: HttpRequest, entry: Entry, **extra: Any) -> dict[str, Any]:
    return {
        "entry": entry,
        "share": share_card(request, entry),
        "voted": has_voted(entry, request.user),
        "report_form": extra.pop("report_form", None) or ReportForm(),
        **extra,
    }


@require_GET
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _visible_entry(request, pk)
    return render(request, "studio/entry.html", _entry_context(request, entry))


@require_POST
@member_required
@rate_limited("studio:vote", "STUDIO_VOTE_RATE")
def vote(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    entry = _visible_entry(request, pk)
    try:
        entry = cast_vote(entry, request.user)
    except Refused as refusal:
        template = "studio/entry.html#vote" if request.htmx else "studio/entry.html"
        context = _entry_context(request, entry, vote_notice=refusal.message)
        return render(request, template, context, status=refusal.status)
    if request.htmx:
        return render(request, "studio/entry.html#vote", _entry_context(request, entry, vote_notice="Vote counted."))
    messages.success(request, "Vote counted. Thank you!")
    return redirect(entry)


@require_POST
@member_required
@rate_limited("studio:report", "STUDIO_REPORT_RATE")
def report(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    entry = _visible_entry(request, pk)
    form = ReportForm(request.POST)
    status, notice = 400, ""
    if form.is_valid():
        try:
            report_entry(entry, request.user, form.cleaned_data["reason"], form.cleaned_data["details"])
        except Refused as refusal:
            status, notice = refusal.status, refusal.message
        else:
            status, notice, form = 200, "Thanks for the report; a moderator will look at it.", ReportForm()
    template = "studio/entry.html#report" if request.htmx else "studio/entry.html"
    return render(
        request, template, _entry_context(request, entry, report_form=form, report_notice=notice), status=status
    )
