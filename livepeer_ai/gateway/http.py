"""The gateway's one HTTP client per process, for its calls to orchestrators outside a job's
stream (/info, /ticket-params).

Building an `httpx.Client` loads the CA bundle into a fresh SSL context, tens of
milliseconds each time, and a client per call also opened a new connection per
call; every stage asks a node for ticket params, so one shared client keeps both
off the hot path. httpx clients may be shared between threads. The client is made
on first use, and again in a forked child (a Celery prefork worker): a connection
inherited across fork would be one socket written by two processes. Callers pass
their own timeout on each request.
"""

from __future__ import annotations

import os
import threading

import httpx

# Several worker threads may ask a node at once; the default 20 idle keep-alive
# connections would close some of them again. Idle ones are dropped well before a
# node's uvicorn (5 s keep-alive) closes them, so no request goes down a closing one.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=50, keepalive_expiry=2.0)

_lock = threading.Lock()
_client: httpx.Client | None = None


def orchestrator_client() -> httpx.Client:
    global _client
    client = _client
    if client is None:
        with _lock:
            if _client is None:
                _client = httpx.Client(limits=POOL_LIMITS)
            client = _client
    return client


def _forget_after_fork() -> None:
    # Dropped, not closed: closing would shut sockets the parent still uses.
    global _client, _lock
    _client = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
