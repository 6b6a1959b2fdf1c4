"""Which of a node's capabilities the network's registry has approved: only those are advertised and sold.

The node reads the registry from its database (registry/curation.py) at most once
per refresh interval, off the event loop, so /info stays cheap; a model disabled
by the curators stops being advertised within one refresh, and comes back within
one refresh of being approved again. If the database cannot be read the last
answer stands; before any answer, nothing is approved (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from django.db import DatabaseError, close_old_connections

from livepeer_ai.registry.curation import approved_keys

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class RegistryApprovals:
    def __init__(self, keys: Iterable[Key], refresh_s: float) -> None:
        self.keys = frozenset(keys)
        self.refresh_s = refresh_s
        self._approved: frozenset[Key] = frozenset()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def _stale(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at >= self.refresh_s

    def _read(self) -> frozenset[Key]:
        try:
            return frozenset(approved_keys(self.keys))
        finally:
            close_old_connections()

    @property
    def current(self) -> frozenset[Key]:
        """The last answer read, without touching the database."""
        return self._approved

    async def approved(self) -> frozenset[Key]:
        if self._stale():
            async with self._lock:
                if self._stale():
                    try:
                        self._approved = await asyncio.to_thread(self._read)
                    except DatabaseError:
                        logger.exception("could not read the model registry; keeping the last approvals")
                    self._loaded_at = time.monotonic()
        return self._approved
