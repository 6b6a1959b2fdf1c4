"""Waking the job engines when something changed in the queue.

Engines in this process are told at once; engines in other processes (and
machines) through Redis pub/sub on WAKE_CHANNEL. Best effort: every engine
dispatches once a second anyway, so a lost wake-up costs at most that second.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

# Redis pub/sub channel every engine listens on: "dispatch <pipeline> <model>", "cancel <job id>".
WAKE_CHANNEL = "livepeer-ai:engine"


class Wakeable(Protocol):
    def post(self, message: str) -> None: ...


_local: set[Wakeable] = set()
_local_lock = threading.Lock()
_publisher: tuple[str, Any] | None = None


def listen_here(engine: Wakeable) -> None:
    """An engine of this process hears every `notify` from now on."""
    with _local_lock:
        _local.add(engine)


def stop_listening(engine: Wakeable) -> None:
    with _local_lock:
        _local.discard(engine)


def wake_local(message: str) -> None:
    """Tell the engines running in this process (tests, `run_job`) at once, without Redis."""
    with _local_lock:
        engines = list(_local)
    for engine in engines:
        engine.post(message)


def notify(message: str) -> None:
    """Wake every engine: this process's at once, the others through Redis."""
    wake_local(message)
    if not settings.REDIS_URL:
        return
    try:
        wake_publisher().publish(WAKE_CHANNEL, message)
    except Exception as exc:  # noqa: BLE001 - the engines' one-second tick picks it up
        logger.warning("could not publish %r to the engines: %s", message, exc)


def wake_publisher() -> Any:
    """One client per Redis URL (settings may name another, in tests), reconnecting by itself."""
    global _publisher
    if _publisher is None or _publisher[0] != settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _publisher = (settings.REDIS_URL, client)
    return _publisher[1]
