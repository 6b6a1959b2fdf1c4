"""What the gateway knows about orchestrators: their /info, latency, reliability, suspensions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from eth_utils import to_checksum_address

from livepeer_ai.gateway import slots
from livepeer_ai.gateway.http import orchestrator_client
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.gateway.selection import suspension_seconds
from livepeer_ai.protocol.node_info import checked_info

logger = logging.getLogger(__name__)

INFO_TIMEOUT = httpx.Timeout(8.0, connect=3.0)  # go-livepeer: connect 3 s, call 8 s (docs/protocol.md §2.3)
RECENT_ATTEMPTS = 20
# A node whose chain did not answer is left alone this long, doubled per such answer in a row:
# short enough that a chain back within seconds costs seconds, bounded so none waits long.
CHAIN_RETRY_FIRST_S = 1.0
CHAIN_RETRY_MAX_S = 16.0


def service_uris() -> list[str]:
    """On chain, the registry's active set (docs/protocol.md §4); off chain, ORCHESTRATOR_URLS."""
    if settings.WEB3_PROVIDER_URI:
        from livepeer_ai.payments.discovery import active_orchestrators

        return [found.service_uri for found in active_orchestrators()]
    return list(settings.ORCHESTRATOR_URLS)


def known_orchestrators() -> list[Orchestrator]:
    """The discovered service URIs, each with its row (created on first sight).

    On chain each row's address is the one the registry maps to that URI (docs/protocol.md §4), so a
    node cannot pose as another orchestrator through its /info; `refresh_info` leaves it be.
    """
    if not settings.WEB3_PROVIDER_URI:
        return [Orchestrator.objects.get_or_create(service_uri=uri.rstrip("/"))[0] for uri in service_uris()]
    from livepeer_ai.payments.discovery import active_orchestrators

    rows = []
    for found in active_orchestrators():
        row, _ = Orchestrator.objects.get_or_create(service_uri=found.service_uri.rstrip("/"))
        registered = to_checksum_address(found.address)
        if row.address != registered:
            row.address = registered
            row.save(update_fields=["address"])
        rows.append(row)
    return rows


def refresh_info(orchestrator: Orchestrator, force: bool = False) -> Orchestrator:
    """Fetch /info when the copy is older than ORCHESTRATOR_INFO_TTL_S (or when forced, after an error)."""
    fresh_until = (orchestrator.info_fetched_at or timezone.now() - timedelta(days=1)) + timedelta(
        seconds=settings.ORCHESTRATOR_INFO_TTL_S
    )
    if not force and orchestrator.reachable and fresh_until > timezone.now():
        return orchestrator
    try:
        response = orchestrator_client().get(f"{orchestrator.service_uri}/info", timeout=INFO_TIMEOUT)
        response.raise_for_status()
        return apply_info(orchestrator, response.json())
    except (httpx.HTTPError, ValueError) as exc:
        return apply_info(orchestrator, None, f"/info failed: {exc}")


def apply_info(
    orchestrator: Orchestrator, answer: Any, error: str = "", ours: dict[str, int] | None = None
) -> Orchestrator:
    """Keep what a node's /info answered (checked first), or that it could not be reached.

    `ours`: the stages of ours it may have counted (gateway/slots.py), so the rest of
    its `in_use` is known to be busy for others.
    """
    if answer is not None:
        # Checked before selection reads it: a node that sends "capacity": "lots" is
        # left with what it sent right, not able to break every job's choice of node.
        orchestrator.info, problems = checked_info(answer)
        slots.reconcile(orchestrator.info, ours or {})
        if not settings.WEB3_PROVIDER_URI:
            # Off chain the gateway's own ORCHESTRATOR_URLS are trusted to say who a node is.
            orchestrator.address = orchestrator.info["address"]
        orchestrator.reachable = True
        if problems:
            logger.warning("%s: %s", orchestrator.service_uri, problems)
            orchestrator.last_error = problems
    else:
        orchestrator.reachable = False
        orchestrator.last_error = error
    orchestrator.info_fetched_at = timezone.now()
    orchestrator.save(update_fields=["info", "address", "reachable", "last_error", "info_fetched_at"])
    return orchestrator


def record_failure(orchestrator: Orchestrator, message: str) -> None:
    """Suspend with a back-off that grows with each failure in a row."""
    Orchestrator.objects.filter(pk=orchestrator.pk).update(failures_in_row=F("failures_in_row") + 1)
    orchestrator.refresh_from_db(fields=["failures_in_row"])
    orchestrator.suspended_until = timezone.now() + timedelta(seconds=suspension_seconds(orchestrator.failures_in_row))
    orchestrator.last_error = message[:2000]
    orchestrator.save(update_fields=["suspended_until", "last_error"])
    logger.warning("suspended %s until %s: %s", orchestrator, orchestrator.suspended_until, message)


def record_success(orchestrator: Orchestrator) -> None:
    Orchestrator.objects.filter(pk=orchestrator.pk).update(failures_in_row=0, suspended_until=None)


class ChainOutages:
    """Nodes that answered CHAIN_UNAVAILABLE, held back from one engine's dispatch meanwhile.

    The failure is the chain's, not the node's (docs/protocol.md §2.5): no suspension, nothing
    counted against its reliability; the node is only not sent work for a back-off that doubles
    with each such answer in a row, from CHAIN_RETRY_FIRST_S to CHAIN_RETRY_MAX_S, and ends
    with its next success.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._held: dict[str, tuple[float, int]] = {}

    def record(self, service_uri: str) -> float:
        """The node's chain did not answer: the seconds it is now held back for."""
        _, in_row = self._held.get(service_uri, (0.0, 0))
        wait = min(CHAIN_RETRY_MAX_S, CHAIN_RETRY_FIRST_S * 2 ** min(in_row, 16))
        self._held[service_uri] = (self.clock() + wait, in_row + 1)
        logger.warning("the chain of %s did not answer; trying it again in %.0f s", service_uri, wait)
        return wait

    def clear(self, service_uri: str) -> None:
        self._held.pop(service_uri, None)

    def held(self) -> frozenset[str]:
        """The service URIs not to dispatch to now."""
        now = self.clock()
        return frozenset(uri for uri, (until, _) in self._held.items() if until > now)
