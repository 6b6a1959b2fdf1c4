"""The site's own answer to a form refused by CSRF protection: the 403 page, in the site's layout.

Django's default renders 403_csrf.html without the request, so the page's nav would
show a signed-in member as a visitor; this one renders with it. Under /api/ the
answer is reshaped to the API's JSON on its way out (gateway/api_errors.py).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import reswap

EXPIRED_FORM = (
    "That form was not sent: the page it came from is too old, or cookies are blocked for this site. "
    "Reload the page and try again."
)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if getattr(request, "htmx", False):
        # Said just before what the request meant to replace, which stays as it was (as a 429 is).
        response = render(request, "studio/refused.html#notice", {"message": EXPIRED_FORM}, status=403)
        return reswap(response, "beforebegin")
    return render(request, "403.html", {"message": EXPIRED_FORM}, status=403)
