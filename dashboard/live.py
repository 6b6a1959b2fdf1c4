"""The dashboard's live parts: rendered once per refresh, pushed to every watcher over Channels.

One group per node (its operator's and admins' pages) gets the capacity
fragment; the public network group gets the orchestrator table and the
redemption feed. Fragments carry `hx-swap-oob`, so the htmx ws extension swaps
them in by id; a page load renders the same fragments from the same data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from eth_utils import is_address

from dashboard.capacity import node_capacity, node_orchestrators
from dashboard.network import orchestrator_rows, recent_redemptions
from livepeer_ai.gateway.progress import LayerOutage

logger = logging.getLogger(__name__)
# Redis down: one warning line per outage of the live pushes, and one when they go through again.
pushes = LayerOutage("live dashboard pushes", logger)

NETWORK_GROUP = "network"


def node_group(address: str) -> str:
    """The Channels group of a node's watchers; ValueError for anything but an Ethereum address, whose
    characters and length always make a valid group name."""
    if not is_address(address):
        raise ValueError(f"{address!r:.60} is not an Ethereum address")
    return f"node_{address.lower()}"


def capacity_fragment(address: str) -> str:
    context = {"node": address, "services": node_capacity(node_orchestrators(address)), "oob": True}
    return render_to_string("dashboard/operator.html#capacity", context)


def network_fragments() -> str:
    context = {
        "orchestrators": orchestrator_rows(timezone.now()),
        "redemptions": recent_redemptions(),
        "on_chain": bool(settings.WEB3_PROVIDER_URI),
        "oob": True,
    }
    return render_to_string("dashboard/network.html#orchestrators", context) + render_to_string(
        "dashboard/network.html#redemptions", context
    )


def publish(addresses: set[str]) -> None:
    """Push fresh fragments to the network group and to the group of each node in `addresses`."""
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    # Each push on its own: one that fails is skipped, the others still go. The pages still
    # render from the database; a lost push only delays that update. A fragment that does not
    # render is a bug (logged with its traceback); a channel layer that does not answer (Redis
    # down) is one warning line per outage.
    fragments: list[tuple[Callable[[], str], Callable[[], str], str]] = [
        (partial(node_group, address), partial(capacity_fragment, address), f"the capacity of node {address[:60]!r}")
        for address in sorted(addresses)
    ]
    fragments.append((lambda: NETWORK_GROUP, network_fragments, "the network overview"))
    for group_of, render, what in fragments:
        try:
            group, html = group_of(), render()
        except Exception:  # noqa: BLE001 - a bad row (an address stored before the check): skip this push only
            logger.warning("could not render %s", what, exc_info=True)
            continue
        try:
            send(group, {"type": "fragment", "html": html})
        except Exception as exc:  # noqa: BLE001 - the channel layer: the next refresh tries again
            pushes.failed(what, exc)
        else:
            pushes.succeeded()
