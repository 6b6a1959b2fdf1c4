"""Fetching what every orchestrator says about itself, for the dashboard's live parts.

Each refresh asks every discovered node for /info (and its own operator's
/runners, when the dashboard may: see `fetch_node`) at once (in threads, each
call with a timeout), reads stakes from the chain registry when
on chain, and stores one `NodeSnapshot` per node. The gateway's `Orchestrator`
row gets the fresh /info too, as `gateway.network.refresh_info` would store it.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from eth_utils import to_checksum_address

from dashboard.models import NodeSnapshot
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.protocol.node_info import checked_info, checked_runners

logger = logging.getLogger(__name__)

FETCH_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
MAX_PARALLEL_FETCHES = 16


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every fetch (SSLContext is safe to share): httpx builds a new one for each
    client, loading the CA bundle, tens of ms of CPU, and a refresh fetches every node every few seconds."""
    return httpx.create_ssl_context()


@dataclass
class Fetched:
    """What a node answered, as it came: `node_info` checks it before anything keeps it."""

    info: Any = None
    error: str = ""
    runners: Any = field(default_factory=list)
    runners_error: str = ""


LOGS_NOT_ASKED = (
    "the dashboard reads runner logs only from nodes on its own machine or with a token for "
    "that node in ORCHESTRATOR_ADMIN_TOKENS"
)


def admin_token_for(service_uri: str) -> str:
    """The operator token the dashboard holds for this one node ("" if none): never another node's."""
    tokens = {uri.rstrip("/"): token for uri, token in settings.ORCHESTRATOR_ADMIN_TOKENS.items()}
    return tokens.get(service_uri.rstrip("/"), "")


def on_this_machine(service_uri: str) -> bool:
    host = httpx.URL(service_uri).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_node(service_uri: str, transport: httpx.BaseTransport | None = None) -> Fetched:
    """/info, then /runners when the dashboard may ask for it; never raises, the errors are what the page shows.

    /runners (log tails) is an operator route on the node (orchestrator.operator_access): asked with that
    node's own token, or with none from a node on this machine; other nodes are not asked at all.
    """
    fetched = Fetched()
    with httpx.Client(timeout=FETCH_TIMEOUT, transport=transport, verify=tls_context()) as client:
        try:
            response = client.get(f"{service_uri}/info")
            response.raise_for_status()
            fetched.info = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            fetched.error = f"/info failed: {exc}"
            return fetched
        token = admin_token_for(service_uri)
        if not token and not on_this_machine(service_uri):
            fetched.runners_error = LOGS_NOT_ASKED
            return fetched
        try:
            response = client.get(
                f"{service_uri}/runners", headers={"Authorization": f"Bearer {token}"} if token else {}
            )
            response.raise_for_status()
            body = response.json()
            fetched.runners = body.get("runners") if isinstance(body, dict) else body
        except (httpx.HTTPError, ValueError) as exc:
            fetched.runners_error = f"/runners failed: {exc}"
    return fetched


@dataclass(frozen=True)
class Discovered:
    service_uri: str
    # From the chain registry; None off chain.
    stake: int | None = None
    registered_address: str | None = None


def discovered(discover: Callable[[], Sequence[Any]] | None = None) -> list[Discovered]:
    """Every node to show: on chain the registry's active set with its stakes and addresses (cached
    by `payments.discovery`), off chain ORCHESTRATOR_URLS with stake and registration unknown."""
    if not settings.WEB3_PROVIDER_URI:
        return [Discovered(uri.rstrip("/")) for uri in settings.ORCHESTRATOR_URLS]
    if discover is None:
        from livepeer_ai.payments.discovery import active_orchestrators

        discover = active_orchestrators
    return [
        Discovered(found.service_uri.rstrip("/"), int(found.stake), str(to_checksum_address(found.address)))
        for found in discover()
    ]


def store(
    orchestrator: Orchestrator, fetched: Fetched, stake: int | None, registered_address: str | None = None
) -> NodeSnapshot:
    """Keep what the node answered, checked (`node_info`): what it got wrong is the snapshot's error.

    On chain the registry's address is the node's (docs/protocol.md §4: the registry maps an address to
    its service URI), whatever /info claims: a node cannot pose as another orchestrator. Off chain
    the gateway's own ORCHESTRATOR_URLS are trusted, and several may share one operator key.
    """
    now = timezone.now()
    orchestrator.info_fetched_at = now
    fields = ["reachable", "info_fetched_at", "address"]
    error = fetched.error
    if registered_address is not None:
        orchestrator.address = registered_address
    if fetched.info is not None:
        info, error = checked_info(fetched.info)
        if registered_address is None:
            orchestrator.address = info["address"]
        elif info["address"] and info["address"] != registered_address:
            mismatch = f"reports address {info['address']} but is registered as {registered_address}"
            error = "; ".join(filter(None, [mismatch, error]))
        orchestrator.info = info
        orchestrator.reachable = True
        fields += ["info"]
    else:
        # The gateway writes last_error too (suspensions): only touch it with news.
        orchestrator.reachable = False
        orchestrator.last_error = fetched.error
        fields += ["last_error"]
    orchestrator.save(update_fields=fields)
    runners, runners_error = checked_runners(fetched.runners)
    snapshot, _ = NodeSnapshot.objects.update_or_create(
        orchestrator=orchestrator,
        defaults={
            "fetched_at": now,
            "reachable": fetched.info is not None,
            "error": error,
            "info": orchestrator.info,
            "runners": runners,
            "runners_error": fetched.runners_error or runners_error,
            "stake": stake,
            "active": True,
        },
    )
    return snapshot


def refresh_all(discover: Callable[[], Sequence[Any]] | None = None) -> list[NodeSnapshot]:
    """Fetch every discovered node and store its snapshot; nodes no longer discovered are marked inactive."""
    nodes = discovered(discover)
    orchestrators = [Orchestrator.objects.get_or_create(service_uri=node.service_uri)[0] for node in nodes]
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_FETCHES, len(nodes)))) as pool:
        fetched = list(pool.map(fetch_node, [node.service_uri for node in nodes]))
    snapshots = [
        store(orchestrator, result, node.stake, node.registered_address)
        for orchestrator, result, node in zip(orchestrators, fetched, nodes, strict=True)
    ]
    NodeSnapshot.objects.exclude(orchestrator__in=orchestrators).update(active=False)
    return snapshots
