"""Staff set rounds up and change them on the site (the Django admin does the same with fewer words)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from studio.access import staff_required
from studio.forms import RoundForm
from studio.models import Round


@require_http_methods(["GET", "POST"])
@staff_required
def new_round(request: HttpRequest) -> HttpResponse:
    return _edit(request, Round())


@require_http_methods(["GET", "POST"])
@staff_required
def edit_round(request: HttpRequest, slug: str) -> HttpResponse:
    return _edit(request, get_object_or_404(Round, slug=slug))


def _edit(request: HttpRequest, round: Round) -> HttpResponse:
    creating = round.pk is None
    form = RoundForm(request.POST or None, instance=round)
    if request.method == "POST":
        if form.is_valid():
            saved = form.save()
            messages.success(request, f"Round “{saved.title}” {'created' if creating else 'saved'}.")
            return redirect(saved)
        return render(request, "studio/round_form.html", {"form": form, "creating": creating}, status=400)
    return render(request, "studio/round_form.html", {"form": form, "creating": creating})
