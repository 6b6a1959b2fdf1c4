"""What the site tells a member about their entries: a moderator approved, hid or stopped hiding one.

Written in the moderator's transaction, and marked read when the member opens the list or the
entry's page. The nav counts the unread ones on every page a member opens, and each of their
open pages keeps a socket in the member's group (`studio.consumers.UnreadNotificationsConsumer`):
once a notification is written, or read in another tab, the group is told and each socket sends
its page the count read afresh. A push lost to a channel-layer outage only waits for the next page.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from livepeer_ai.gateway.progress import LayerOutage
from studio.models import Entry, Notification, NotificationKind

logger = logging.getLogger(__name__)
pushes = LayerOutage("notification counts", logger)

# The list shows the latest ones; older ones are kept but not paged through.
LIST_SIZE = 50


def notify(entry: Entry, kind: NotificationKind, moderator: Any) -> Notification | None:
    """Tell the entry's author what `moderator` did to it; a moderator acting on their own entry knows."""
    if entry.author_id == moderator.pk:
        return None
    note = Notification.objects.create(member_id=entry.author_id, entry=entry, kind=kind)
    transaction.on_commit(functools.partial(push_unread, entry.author_id))
    return note


def unread_count(member: Any) -> int:
    return Notification.objects.filter(member=member, read_at__isnull=True).count()


def latest(member: Any) -> list[Notification]:
    return list(Notification.objects.filter(member=member).select_related("entry__job__generation")[:LIST_SIZE])


def mark_read(member: Any, entry: Entry | None = None) -> int:
    """Mark the member's unread notifications read (only those about `entry` when given)."""
    unread: QuerySet[Notification] = Notification.objects.filter(member=member, read_at__isnull=True)
    if entry is not None:
        unread = unread.filter(entry=entry)
    marked = unread.update(read_at=timezone.now())
    if marked:
        transaction.on_commit(functools.partial(push_unread, member.pk))
    return marked


def member_group(member_id: object) -> str:
    """The Channels group of a member's open pages."""
    return f"notifications_{member_id}"


def unread_fragment(member: Any) -> str:
    """The nav's count, to be swapped in by id (hx-swap-oob)."""
    return render_to_string("studio/_unread.html", {"unread_notifications": unread_count(member), "oob": True})


def push_unread(member_id: int) -> None:
    """Tell the member's open pages that their count changed; never fails the action that changed it."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(member_group(member_id), {"type": "notifications.changed"})
    except Exception as exc:  # noqa: BLE001 - the channel layer: the member's next page shows the count
        pushes.failed(f"the notification count of member {member_id}", exc)
    else:
        pushes.succeeded()


def nav_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `unread_notifications`, counted only if the page's nav asks (never for visitors)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": functools.cache(lambda: unread_count(user))}
