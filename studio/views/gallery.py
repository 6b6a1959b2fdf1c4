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
from studio import notifications
from studio.access import member_required, to_login
from studio.forms import ReportForm
from studio.models import Entry, Round
from studio.moderation import report_entry
from studio.ratelimits import rate_limited
from studio.refusals import Refused
from studio.sharing import share_card
from studio.voting import cast_vote, has_voted, voted_entry_ids
from studio.voting import take_back_vote as take_back

PAGE_SIZE = 12
PAST_ROUNDS_PAGE_SIZE = 10
SORTS = {"votes": "most votes", "new": "newest"}
# After logging in to vote, the entry page asks once more before the vote is cast (a POST):
# a link that votes by being followed could be planted anywhere.
CONFIRM_VOTE = "confirm"


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
    entries = round.entries.public().select_related("round", "job__generation", "author")
    entries = entries.ranked() if sort == "votes" else entries.order_by("-created_at", "-id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    voted_ids = voted_entry_ids([entry.pk for entry in page.object_list], request.user)
    context = {"round": round, "page": page, "sort": sort, "sorts": SORTS, "voted_ids": voted_ids}
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
    if entry.author_id == request.user.pk:
        notifications.mark_read(request.user, entry)  # the page says what they said
    confirm = request.GET.get("vote") == CONFIRM_VOTE
    return render(request, "studio/entry.html", _entry_context(request, entry, confirm_vote=confirm))


def _vote_answer(request: HtmxHttpRequest, entry: Entry, notice: str, status: int = 200) -> HttpResponse:
    """The vote's new state where it was asked from: a gallery card, the entry page's box, or the page."""
    if request.htmx and (request.htmx.target or "").startswith("card-vote-"):
        voted = has_voted(entry, request.user)
        context = {"entry": entry, "voted_ids": {entry.pk} if voted else set(), "vote_notice": notice}
        return render(request, "studio/_entry_card.html#card-vote", context, status=status)
    if request.htmx:
        return render(
            request, "studio/entry.html#vote", _entry_context(request, entry, vote_notice=notice), status=status
        )
    if status >= 400:
        return render(request, "studio/entry.html", _entry_context(request, entry, vote_notice=notice), status=status)
    messages.success(request, notice)
    return redirect(entry)


@require_POST
@rate_limited("studio:vote", "STUDIO_VOTE_RATE")
def vote(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    entry = _visible_entry(request, pk)
    if not request.user.is_authenticated:
        return to_login(request, f"{entry.get_absolute_url()}?vote={CONFIRM_VOTE}")
    try:
        entry = cast_vote(entry, request.user)
    except Refused as refusal:
        return _vote_answer(request, entry, refusal.message, refusal.status)
    return _vote_answer(request, entry, "Vote counted. Thank you!")


@require_POST
@member_required
@rate_limited("studio:vote", "STUDIO_VOTE_RATE")
def take_back_vote(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    entry = _visible_entry(request, pk)
    try:
        entry = take_back(entry, request.user)
    except Refused as refusal:
        return _vote_answer(request, entry, refusal.message, refusal.status)
    return _vote_answer(request, entry, "Vote taken back.")


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
