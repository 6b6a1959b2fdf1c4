"""On-chain discovery (docs/protocol.md §4): the service URIs of the registry's active set.

The gateway uses it instead of ORCHESTRATOR_URLS when WEB3_PROVIDER_URI is set.
The active set is read at most every DISCOVERY_TTL_S; a failing read keeps the
last good list so a chain hiccup does not empty the network.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.chain import ChainError

logger = logging.getLogger(__name__)

DISCOVERY_TTL_S = 30.0


@dataclass(frozen=True)
class DiscoveredOrchestrator:
    address: str
    service_uri: str
    stake: int


_lock = threading.Lock()
_cache: tuple[float, list[DiscoveredOrchestrator]] | None = None


def active_orchestrators(broker: Broker | None = None, ttl_s: float = DISCOVERY_TTL_S) -> list[DiscoveredOrchestrator]:
    """The active set, highest stake first; exactly the registry's top `poolMaxSize`."""
    global _cache
    with _lock:
        if _cache is not None and time.monotonic() - _cache[0] < ttl_s:
            return list(_cache[1])
        try:
            found = [
                DiscoveredOrchestrator(address, uri, stake)
                for address, uri, stake in (broker or Broker.from_settings()).active_orchestrators()
            ]
        except (ChainError, OSError, ValueError) as exc:
            logger.warning("on-chain discovery failed, keeping the last list: %s", exc)
            return list(_cache[1]) if _cache else []
        _cache = (time.monotonic(), found)
        return list(found)


def forget() -> None:
    global _cache
    with _lock:
        _cache = None
