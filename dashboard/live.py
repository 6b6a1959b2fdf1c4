"""The dashboard's live parts: rendered once per refresh, pushed to every watcher over Channels.

One group per node (its operator's and admins' pages) gets the capacity
fragment; the public network group gets the orchestrator table and the
redemption feed. Fragments carry `hx-swap-oob`, so the htmx ws extension swaps
them in by id; a page load renders the same fragments from the same data.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from eth_utils import is_address

from dashboard.capacity import node_capacity, node_orchestrators
from dashboard.network import orchestrator_rows, recent_redemptions

logger = logging.getLogger(__name__)

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
    # render from the database; a lost push only delays that update.
    for address in sorted(addresses):
        try:
            send(node_group(address), {"type": "fragment", "html": capacity_fragment(address)})
        except Exception:  # noqa: BLE001 - a bad row or a channel layer error: skip this push only
            logger.warning("could not push the capacity of node %r", address[:60], exc_info=True)
    try:
        send(NETWORK_GROUP, {"type": "fragment", "html": network_fragments()})
    except Exception:  # noqa: BLE001 - as above
        logger.warning("could not push the network overview", exc_info=True)
