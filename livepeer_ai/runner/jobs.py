"""One job at a time: the runner's single slot, the worker thread, and its events.

The pipeline runs in a thread so the event loop keeps answering /health and
/cancel; progress crosses back into the loop through an asyncio queue. The slot
is released only when the pipeline has really stopped, never when the client
goes away, so a canceled job cannot overlap the next one on the same device.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from livepeer_ai.messages import error_body
from livepeer_ai.pipelines.base import CancelToken, InvalidParameters, JobCanceled, ProgressCallback
from livepeer_ai.pipelines.loras import LoraLoadFailed
from livepeer_ai.pipelines.media import MediaTooLarge, UnsupportedMedia

logger = logging.getLogger(__name__)

# Called with each new piece of a streamed answer's text (llm with `stream: true`).
TextCallback = Callable[[str], None]
# (on_progress, cancel, on_text) -> response body
JobFunction = Callable[[ProgressCallback, CancelToken, TextCallback], dict[str, Any]]


@dataclass
class JobEvent:
    kind: str  # "progress", "delta" (a streamed answer's next text), "result" or "error"
    body: dict[str, Any]
    status: int = 200


class RunnerBusy(Exception):
    pass


class JobSlot:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancel: CancelToken | None = None

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def acquire(self) -> CancelToken:
        if not self._lock.acquire(blocking=False):
            raise RunnerBusy
        self._cancel = CancelToken()
        return self._cancel

    def release(self) -> None:
        self._cancel = None
        self._lock.release()

    def cancel_current(self) -> bool:
        token = self._cancel
        if token is None:
            return False
        token.cancel()
        return True


def error_event(exc: BaseException, pipeline: str) -> JobEvent:
    """Map a pipeline failure to the runner API's status and message (docs/protocol.md §1.3)."""
    if isinstance(exc, JobCanceled):
        return JobEvent("error", error_body("Job canceled."), 409)
    if isinstance(exc, MediaTooLarge):
        return JobEvent("error", error_body(str(exc)), 413)
    if isinstance(exc, UnsupportedMedia):
        return JobEvent("error", error_body(str(exc)), 415)
    if isinstance(exc, InvalidParameters | ValueError):
        return JobEvent("error", error_body(str(exc)), 400)
    if isinstance(exc, LoraLoadFailed):
        return JobEvent("error", error_body(str(exc)), 500)
    if type(exc).__name__ == "OutOfMemoryError":
        return JobEvent("error", error_body("GPU out of memory."), 500)
    logger.error("%s pipeline failed", pipeline, exc_info=exc)
    return JobEvent("error", error_body(f"{pipeline.capitalize()} pipeline error."), 500)


def start_job(slot: JobSlot, cancel: CancelToken, job: JobFunction, pipeline: str) -> asyncio.Queue[JobEvent]:
    """Run `job` in a thread; every progress step and the outcome land in the queue."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[JobEvent] = asyncio.Queue()

    def put(event: JobEvent) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event)

    def on_progress(step: int, total: int, /, preview: str | None = None) -> None:
        body: dict[str, Any] = {"step": step, "total": total}
        if preview is not None:
            body["preview"] = preview
        put(JobEvent("progress", body))

    def on_text(content: str) -> None:
        put(JobEvent("delta", {"content": content}))

    def work() -> None:
        try:
            try:
                outcome = JobEvent("result", job(on_progress, cancel, on_text))
            except BaseException as exc:  # noqa: BLE001 - every failure must reach the caller
                outcome = error_event(exc, pipeline)
        finally:
            slot.release()
        # Only once the slot is free: a caller that sends its next job the moment it has this one's
        # outcome must find the runner idle, not busy for the instant this thread takes to release it.
        put(outcome)

    threading.Thread(target=work, name=f"{pipeline}-job", daemon=True).start()
    return events


async def final_event(events: asyncio.Queue[JobEvent]) -> JobEvent:
    while True:
        event = await events.get()
        if event.kind in ("result", "error"):
            return event


async def stream_events(events: asyncio.Queue[JobEvent], cancel: CancelToken) -> AsyncIterator[JobEvent]:
    """Yield events until the outcome; a client that disconnects cancels the job."""
    try:
        while True:
            event = await events.get()
            yield event
            if event.kind in ("result", "error"):
                return
    finally:
        # Reached on normal completion too, where cancelling is a no-op.
        cancel.cancel()
