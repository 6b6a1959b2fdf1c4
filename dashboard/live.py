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

from dashboard.capacity import node_capacity, node_orchestrators
from dashboard.network import orchestrator_rows, recent_redemptions

logger = logging.getLogger(__name__)

NETWORK_GROUP = "network"


def node_group(address: str) -> str:
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
    try:
        for address in sorted(addresses):
            send(node_group(address), {"type": "fragment", "html": capacity_fragment(address)})
        send(NETWORK_GROUP, {"type": "fragment", "html": network_fragments()})
    except Exception:
        # The pages still render from the database; a lost push only delays the update.
        logger.warning("could not publish dashboard updates", exc_info=True)
