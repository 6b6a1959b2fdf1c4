"""Who may do what: visitors browse, members (any signed-in account) create and vote, staff moderate.

Visitors who try a member's action are sent to log in and brought back to the
page they were on; htmx requests get a client-side redirect rather than a login
page swapped into a fragment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

View = Callable[..., HttpResponseBase]


def came_from(request: HttpRequest) -> str:
    """The page a POST was made from (this site's only), to return to after logging in."""
    htmx = getattr(request, "htmx", None)
    candidate = (htmx.current_url_abs_path if htmx else None) or request.META.get("HTTP_REFERER", "")
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        parsed = urlparse(candidate)
        return parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return request.get_full_path() if request.method == "GET" else "/"


def to_login(request: HttpRequest, next_url: str = "") -> HttpResponse:
    """To the login page, coming back to `next_url` (by default the page the request came from)."""
    response = redirect_to_login(next_url or came_from(request))
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(response["Location"])
    return response


def member_required(view: View) -> View:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return to_login(request)
        return view(request, *args, **kwargs)

    return wrapped


def staff_required(view: View) -> View:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return to_login(request)
        if not request.user.is_staff:
            return refused(request, "Only moderators can see this page.", 403)
        return view(request, *args, **kwargs)

    return wrapped


def refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """A rule said no: the message, as a fragment for htmx or as a page."""
    if getattr(request, "htmx", False):
        template = "studio/refused.html#notice"
    else:
        # Out of service is the site's 503 page; the rules' own refusals say "that didn't work".
        template = "503.html" if status == 503 else "studio/refused.html"
    return render(request, template, {"message": message, "status": status}, status=status)
