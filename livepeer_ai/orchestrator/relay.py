"""Passing a runner's SSE stream through to the caller: progress as it
comes, the result only once the node has signed its receipts and charged for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from livepeer_ai.messages import error_body, sse_event


class ReceiptFailed(Exception):
    """The node could not sign for the runner's result (an output it cannot read)."""


async def relay_events(
    upstream: httpx.Response,
    with_receipts: Callable[[str], Awaitable[dict[str, Any]]],
    finish: Callable[[str], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """The runner's events, its result with receipts added; `finish` is called once with the job's outcome.

    Closing early cancels the runner's job: a response closed before it is read to its
    end closes its connection, which the runner sees.
    """
    outcome = "canceled"
    finished = False
    try:
        async for event in EventSource(upstream).aiter_sse():
            if event.event != "result":
                if event.event == "error":
                    outcome = "runner_error"
                yield sse_event(event.event, event.data).encode()
                continue
            try:
                result = await with_receipts(event.data)
            except ReceiptFailed as exc:
                outcome = "receipt_failed"
                yield sse_event("error", {**error_body(str(exc)), "status": 502}).encode()
                return
            outcome = "ok"
            # Charged before the result leaves, so the caller's next request sees a settled balance.
            await finish(outcome)
            finished = True
            yield sse_event("result", result).encode()
    except (httpx.HTTPError, SSEError):
        if outcome != "ok":
            outcome = "runner_unreachable"
    finally:
        await upstream.aclose()
        if not finished:
            await finish(outcome)
