"""HTTP client for the runner API. Orchestrators speak the same routes, so the
gateway calls them through this client too. No torch here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

# Called with (step, total) for every progress event. It may raise to abandon the
# job: leaving the stream closes the connection, and the runner cancels the job.
OnProgress = Callable[[int, int], None]

CONNECT_TIMEOUT_S = 5.0


class RunnerError(Exception):
    """A runner or orchestrator answered with an error (or not at all)."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        # The error body's machine-readable reason, when it gave one (messages.CHAIN_UNAVAILABLE).
        self.code = code

    @property
    def is_caller_error(self) -> bool:
        """4xx other than busy: the request itself is wrong; retrying elsewhere won't help."""
        return 400 <= self.status < 500 and self.status not in {408, 409, 429}


def error_code(response: httpx.Response) -> str:
    """The `detail.code` of an error body (messages.error_body), or "" when it has none."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail.get("code") or "") if isinstance(detail, dict) else ""


def error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict) and "msg" in detail:
        return str(detail["msg"])
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
    return json.dumps(body)[:500]


class RunnerClient:
    def __init__(self, base_url: str, timeout_s: float = 600.0, token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=self.headers)

    def run(
        self,
        pipeline: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        on_progress: OnProgress | None = None,
    ) -> dict[str, Any]:
        """Run one job; with `on_progress` the runner streams every step over SSE."""
        request: dict[str, Any] = {}
        if json_body is not None:
            request["json"] = json_body
        else:
            request["data"] = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (form or {}).items()}
            request["files"] = files or {}
        try:
            with self._client() as client:
                if on_progress is None:
                    response = client.post(f"/{pipeline}", **request)
                    if response.status_code >= 400:
                        raise RunnerError(response.status_code, error_message(response))
                    return dict(response.json())
                return self._stream(client, pipeline, request, on_progress)
        except httpx.TimeoutException as exc:
            raise RunnerError(504, f"Runner timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise RunnerError(502, f"Runner unreachable: {exc}") from exc

    def _stream(
        self, client: httpx.Client, pipeline: str, request: dict[str, Any], on_progress: OnProgress
    ) -> dict[str, Any]:
        with connect_sse(client, "POST", f"/{pipeline}", headers={"Accept": "text/event-stream"}, **request) as source:
            response = source.response
            if response.status_code >= 400:
                response.read()
                raise RunnerError(response.status_code, error_message(response))
            try:
                for event in source.iter_sse():
                    payload = event.json()
                    if event.event == "progress":
                        on_progress(int(payload["step"]), int(payload["total"]))
                    elif event.event == "result":
                        return dict(payload)
                    elif event.event == "error":
                        detail = payload.get("detail", {})
                        raise RunnerError(int(payload.get("status", 500)), str(detail.get("msg", detail)))
            except SSEError as exc:
                raise RunnerError(502, f"Runner sent a malformed stream: {exc}") from exc
        raise RunnerError(502, "Runner closed the stream without a result.")
