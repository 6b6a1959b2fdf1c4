"""Keeping periodic polls out of the logs: health checks, /info and /runners fetches, scrapes.

Every node is asked for its /info by each engine and by the dashboard every few
seconds, and checks each of its runners' /health as often. Logged at INFO, those
lines outnumber everything else and push a runner's useful lines out of the log
tail its operator sees. `settings.LOGGING` attaches `QuietPolls` to uvicorn's
access logger, so a successful poll is not logged while jobs and every failed
request still are. uvicorn's own logging config, applied later by `uvicorn.run`,
replaces that logger's handlers and level but keeps its filters.
"""

from __future__ import annotations

import logging

# GET routes that something asks on a timer (supervisor, engine, dashboard, Prometheus).
POLLED_PATHS = frozenset({"/health", "/info", "/runners", "/metrics", "/version", "/hardware/info"})


class QuietPolls(logging.Filter):
    """Drops uvicorn access records of successful GETs to `POLLED_PATHS`."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: (client address, method, path with query, HTTP version, status).
        if not isinstance(record.args, tuple) or len(record.args) != 5:
            return True
        _, method, path, _, status = record.args
        if method != "GET" or not isinstance(path, str) or not isinstance(status, int):
            return True
        return not (path.split("?", 1)[0] in POLLED_PATHS and status < 400)
