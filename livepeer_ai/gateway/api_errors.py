"""One JSON shape for every refusal of the public API, as ai-runner answers them.

`{"detail": {"msg": "..."}}` for every error status, and FastAPI's item list
`{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}` for 422. What Django
or django-ninja answer themselves under /api/ (an unknown route, a wrong method,
a SuspiciousOperation's 400, a 500) is reshaped by `json_errors` on the way out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from inspect import iscoroutinefunction
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware

from livepeer_ai.messages import error_body

API_PREFIX = "/api/"


def error(status: int, msg: str) -> JsonResponse:
    return JsonResponse(error_body(msg), status=status)


def invalid(items: Iterable[dict[str, Any]]) -> JsonResponse:
    """422 with FastAPI's items; locations as strings, as the runner reports them."""
    detail = [{"loc": [str(part) for part in item["loc"]], "msg": item["msg"], "type": item["type"]} for item in items]
    return JsonResponse({"detail": detail}, status=422)


def reshaped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An API error response that is not JSON (Django's HTML 400/404/500, ninja's empty 405), as JSON."""
    if response.status_code < 400 or not request.path.startswith(API_PREFIX):
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    if response.status_code == 404:
        msg = f"No such route: {request.method} {request.path}."
    elif response.status_code == 405:
        msg = f"{request.method} is not allowed here; allowed: {response.get('Allow', 'none')}."
    else:
        msg = response.reason_phrase
    shaped = error(response.status_code, msg)
    if "Allow" in response:
        shaped["Allow"] = response["Allow"]
    return shaped


@sync_and_async_middleware
def json_errors(
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return reshaped(request, await get_response(request))

    else:

        def middleware(request: HttpRequest) -> HttpResponse:  # type: ignore[misc]
            return reshaped(request, get_response(request))  # type: ignore[arg-type]

    return middleware
