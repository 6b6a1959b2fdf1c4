"""Rate limits on creating, voting, reporting and guessing passwords, answered with 429, when they reset,
and Retry-After.

django-ratelimit counts in the shared cache (fixed windows per key); its usage
tells how many seconds the window has left, which the answer passes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django_htmx.http import reswap
from django_ratelimit.core import get_usage

View = Callable[..., HttpResponseBase]


def rate_limited(group: str, rate_setting: str) -> Callable[[View], View]:
    """Count each POST to the view per member (per IP for visitors) at the rate named by `rate_setting`."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            usage = get_usage(
                request,
                group=group,
                key="user_or_ip",
                rate=getattr(settings, rate_setting),
                method="POST",
                increment=True,
            )
            if usage is not None and usage["should_limit"]:
                return too_many(request, max(int(usage["time_left"]), 1), usage["limit"])
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def guarded_form(group: str, rate_setting: str, field: str) -> Callable[[View], View]:
    """Count each POST to a password form twice, per client IP and per the account it names in `field`
    (its `user` when the form names none): spreading guesses over addresses or accounts gains nothing.
    Every try counts, before any password is checked, so over the limit a right password waits too."""

    def account(_group: str, request: HttpRequest) -> str:
        named = request.POST.get(field, "") if field else ""
        if not named and request.user.is_authenticated:
            named = str(request.user.pk)
        return named.strip().lower()

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            spent = [
                get_usage(
                    request, group=group, key=key, rate=getattr(settings, rate_setting), method="POST", increment=True
                )
                for key in ("ip", account)
            ]
            over = [usage for usage in spent if usage is not None and usage["should_limit"]]
            if over:
                seconds_left = max(max(int(usage["time_left"]) for usage in over), 1)
                message = "Too many tries for this account or from your address."
                return too_many(request, seconds_left, over[0]["limit"], message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def too_many(request: HttpRequest, seconds_left: int, limit: int, message: str = "") -> HttpResponse:
    context = {
        "seconds_left": seconds_left,
        "resets_at": timezone.now() + timedelta(seconds=seconds_left),
        "limit": limit,
        "message": message,
    }
    template = "429.html#limit-message" if getattr(request, "htmx", False) else "429.html"
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(seconds_left)
    if getattr(request, "htmx", False):
        # Said just before whatever the request meant to replace, which stays usable.
        reswap(response, "beforebegin")
    return response
