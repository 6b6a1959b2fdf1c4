"""What the site tells a member about their entries: a moderator approved, hid or stopped hiding one.

Written in the moderator's transaction, read on the member's next page (the nav counts the
unread ones on every page a member opens), and marked read when they open the list or the
entry's page. The site has no per-member socket, so nothing is pushed.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from studio.models import Entry, Notification, NotificationKind

# The list shows the latest ones; older ones are kept but not paged through.
LIST_SIZE = 50


def notify(entry: Entry, kind: NotificationKind, moderator: Any) -> Notification | None:
    """Tell the entry's author what `moderator` did to it; a moderator acting on their own entry knows."""
    if entry.author_id == moderator.pk:
        return None
    return Notification.objects.create(member_id=entry.author_id, entry=entry, kind=kind)


def unread_count(member: Any) -> int:
    return Notification.objects.filter(member=member, read_at__isnull=True).count()


def latest(member: Any) -> list[Notification]:
    return list(Notification.objects.filter(member=member).select_related("entry__job__generation")[:LIST_SIZE])


def mark_read(member: Any, entry: Entry | None = None) -> int:
    """Mark the member's unread notifications read (only those about `entry` when given)."""
    unread: QuerySet[Notification] = Notification.objects.filter(member=member, read_at__isnull=True)
    if entry is not None:
        unread = unread.filter(entry=entry)
    return unread.update(read_at=timezone.now())


def nav_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `unread_notifications`, counted only if the page's nav asks (never for visitors)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": functools.cache(lambda: unread_count(user))}
