"""Members report entries; moderators (staff) approve, hide and unhide them and resolve reports."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from studio.models import Entry, NotificationKind, Report
from studio.notifications import notify
from studio.refusals import Refused


def report_entry(entry: Entry, reporter: Any, reason: str, details: str = "") -> Report:
    if entry.author_id == reporter.pk:
        raise Refused("You can't report your own entry; ask a moderator to remove it instead.", status=403)
    if not entry.visible_to(reporter):
        raise Refused("No such entry.", status=404)
    try:
        with transaction.atomic():
            return Report.objects.create(entry=entry, reporter=reporter, reason=reason, details=details)
    except IntegrityError:
        raise Refused("You already reported this entry; a moderator will look at it.", status=409) from None


def approve(entry: Entry, moderator: Any) -> None:
    """Let an unchecked or flagged entry into the public gallery; its author is told, once."""
    with transaction.atomic():
        approved = Entry.objects.filter(pk=entry.pk, approved_at__isnull=True).update(
            approved_at=timezone.now(), approved_by=moderator
        )
        if approved:
            notify(entry, NotificationKind.APPROVED, moderator)
    entry.refresh_from_db()


def hide(entry: Entry, moderator: Any) -> None:
    """Take an entry out of every public list and page; its open reports are resolved by it."""
    now = timezone.now()
    with transaction.atomic():
        if Entry.objects.filter(pk=entry.pk, hidden=False).update(hidden=True, hidden_at=now, hidden_by=moderator):
            notify(entry, NotificationKind.HIDDEN, moderator)
        entry.reports.filter(resolved_at__isnull=True).update(
            resolved_at=now, resolved_by=moderator, resolution="hidden"
        )
    entry.refresh_from_db()


def unhide(entry: Entry, moderator: Any) -> None:
    with transaction.atomic():
        if Entry.objects.filter(pk=entry.pk, hidden=True).update(hidden=False, hidden_at=None, hidden_by=None):
            notify(entry, NotificationKind.SHOWN, moderator)
    entry.refresh_from_db()


def dismiss(report: Report, moderator: Any) -> None:
    Report.objects.filter(pk=report.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=moderator, resolution="dismissed"
    )
    report.refresh_from_db()


MODERATOR_ACTIONS = {"approve": approve, "hide": hide, "unhide": unhide}
