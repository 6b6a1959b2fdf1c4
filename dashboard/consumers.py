from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard import live
from dashboard.access import visible_node


class FragmentConsumer(AsyncWebsocketConsumer):
    """Joins one group, sends its current fragments on connect, then forwards every pushed fragment."""

    group = ""

    async def start(self, group: str, html: str) -> None:
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        # A reload or a late tab starts from the current state, not from the next refresh.
        await self.send(text_data=html)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def fragment(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])


@database_sync_to_async
def _node_fragment(user: Any, address: str) -> tuple[str, str] | None:
    node = visible_node(user, address)
    return None if node is None else (node, live.capacity_fragment(node))


class NodeConsumer(FragmentConsumer):
    """A node's live capacity, for its operator and admins only (others are closed with 4403)."""

    async def connect(self) -> None:
        found = await _node_fragment(self.scope.get("user"), str(self.scope["url_route"]["kwargs"]["address"]))
        if found is None:
            await self.close(code=4403)
            return
        node, html = found
        await self.start(live.node_group(node), html)


class NetworkConsumer(FragmentConsumer):
    """The public overview's orchestrator table and redemption feed."""

    async def connect(self) -> None:
        await self.start(live.NETWORK_GROUP, await database_sync_to_async(live.network_fragments)())
