from __future__ import annotations

from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from dashboard.forms import SignInForm
from dashboard.signin import SignInRefused, Site, message_for, sign_in_operator
from dashboard.siwe import SiweError, SiweMessage, format_time

# Per client IP: each message costs a database row, each sign-in a signature recovery.
SIGN_IN_RATE = "30/m"
TOO_MANY = "Too many sign-in attempts from your address; wait a minute and try again."


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure())
    return wanted if allowed else ""


def _page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    context = {"form": SignInForm(), "next": _next_url(request), "error": error}
    return render(request, "dashboard/signin.html", context, status=status)


def _sign_in(request: HttpRequest, form: SignInForm) -> HttpResponse:
    if getattr(request, "limited", False):
        return _page(request, TOO_MANY, status=429)
    if not form.is_valid():
        return _page(request, "A sign-in needs a signed message and its signature.", status=400)
    try:
        operator = sign_in_operator(form.cleaned_data["message"], form.cleaned_data["signature"], Site.of(request))
    except SignInRefused as exc:
        return _page(request, f"Sign-in refused: {exc.reason}.", status=exc.status)
    auth_login(request, operator.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(_next_url(request) or reverse("dashboard-node", args=[operator.address]))


@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=SIGN_IN_RATE, method="POST", block=False)
def login(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    return _sign_in(request, SignInForm(request.POST))


@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=SIGN_IN_RATE, method="POST", block=False)
def login_link(request: HttpRequest) -> HttpResponse:
    """The one-time link `manage.py operator_login_link` prints: message and signature in the query.

    Opening it (GET) only shows whom it signs in; the button POSTs and spends it. Chat
    apps and mail scanners fetch links to preview them, and a GET that signed in would
    hand them the session and burn the operator's nonce.
    """
    if request.method == "POST":
        return _sign_in(request, SignInForm(request.POST))
    form = SignInForm(request.GET)
    if not form.is_valid():
        return _page(request, "This sign-in link is incomplete: it needs a signed message and its signature.", 400)
    try:
        message = SiweMessage.parse(form.cleaned_data["message"])
    except SiweError as exc:
        return _page(request, f"This sign-in link is not valid: {exc}.", status=400)
    return render(request, "dashboard/login_link.html", {"form": form, "message": message, "next": _next_url(request)})


@never_cache
@require_GET
@ratelimit(key="ip", rate=SIGN_IN_RATE, block=False)
def login_message(request: HttpRequest) -> HttpResponse:
    """A fresh EIP-4361 message for ?address= to sign, with a single-use nonce."""
    if getattr(request, "limited", False):
        return JsonResponse({"detail": TOO_MANY}, status=429)
    try:
        message = message_for(request.GET.get("address", ""), Site.of(request))
    except SignInRefused as exc:
        return JsonResponse({"detail": exc.reason}, status=exc.status)
    expires_at = format_time(message.expiration_time) if message.expiration_time else None
    return JsonResponse({"message": message.text(), "nonce": message.nonce, "expires_at": expires_at})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect("dashboard-login")
