"""Fair shares of a capability's slots between API keys: one key's backlog never holds the others back.

Within a priority, the waiting stages are served in turns: a key's n-th waiting
stage takes its turn n, after the stages it already runs there. So a key that
queued 10 jobs before another key's one shares the free slots with it at once,
rather than filling them all first; with nobody else waiting, it may use them
all (no slot stays idle for fairness' sake). Within a key, first come, first
served. Jobs without a key (the studio's) share one turn order.

`API_KEY_MAX_RUNNING`, when set, also caps the stages one key runs on a
capability at once: its further jobs wait in the queue, keeping slots free for
keys that come later.

A waiting stage's position is its place in that same order (`position_of`), so
the position and the ETA a client sees are the order it will be served in.

Each key's head is read on its own from the `queue_key_turns` index (a few rows
per waiting key), so the cost follows the number of keys waiting, not the depth.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from livepeer_ai.gateway.models import QueuedStage, QueueState


def running_by_key(pipeline: str, model_id: str) -> dict[int | None, int]:
    """Per API key id (None: jobs without one), its stages running on the capability now."""
    rows = (
        QueuedStage.objects.filter(state=QueueState.RUNNING, pipeline=pipeline, model_id=model_id)
        .values("api_key_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["api_key_id"]: row["n"] for row in rows}


def waiting_keys(pipeline: str, model_id: str) -> list[int | None]:
    """The API keys (None: jobs without one) with stages waiting on the capability."""
    waiting = QueuedStage.objects.filter(state=QueueState.WAITING, pipeline=pipeline, model_id=model_id)
    return list(waiting.order_by().values_list("api_key_id", flat=True).distinct())


def fair_head(waiting: QuerySet[QueuedStage], pipeline: str, model_id: str, count: int) -> list[QueuedStage]:
    """The first `count` waiting stages in fair order: priority, then each key's turn, then arrival."""
    cap = settings.API_KEY_MAX_RUNNING
    keys = waiting_keys(pipeline, model_id)
    if len(keys) <= 1 and not cap:
        # One client waiting (the usual deep queue: one key's burst): its turns are its arrival order.
        return list(waiting.order_by("-priority", "id")[:count])
    running = running_by_key(pipeline, model_id)
    ranked: list[tuple[int, int, int, Any]] = []
    for key in keys:
        held = running.get(key, 0)
        # Jobs without a key are never capped.
        take = count if not cap or key is None else min(count, cap - held)
        if take <= 0:
            continue
        head = waiting.filter(api_key_id=key) if key is not None else waiting.filter(api_key__isnull=True)
        # A key's rows by priority first, as the one-key path orders them: a later urgent row is not left out.
        for turn, row in enumerate(head.order_by("-priority", "id")[:take], start=held + 1):
            ranked.append((-row.priority, turn, row.id, row))
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked[:count]]


def position_of(entry: QueuedStage, waiting: QuerySet[QueuedStage]) -> int:
    """`entry`'s place (1 = next) in the order `fair_head` serves `waiting` (the entry's capability).

    Counted, not listed: per key, its rows of a higher priority (all ahead), and of
    the entry's priority those whose turn comes first (a key's rows there take the
    turns after what it runs and its higher rows, in arrival order; on a tie of
    turns, the earlier arrival goes first). A few queries per waiting key, at any
    depth. With `API_KEY_MAX_RUNNING`, a key at its cap also waits for its own
    stages to end; the position still counts turns.
    """
    priority = entry.priority
    per_key = {
        row["api_key_id"]: row
        for row in waiting.values("api_key_id")
        .annotate(
            above=Count("id", filter=Q(priority__gt=priority)),
            level=Count("id", filter=Q(priority=priority)),
            before=Count("id", filter=Q(priority=priority, id__lt=entry.id)),
        )
        .order_by()
    }
    own = per_key.pop(entry.api_key_id, {"above": 0, "before": 0})
    ahead = own["above"] + own["before"]
    if not per_key:
        return ahead + 1
    running = running_by_key(entry.pipeline, entry.model_id)
    turn = running.get(entry.api_key_id, 0) + ahead + 1
    for key, row in per_key.items():
        ahead += row["above"]
        # This key's rows at the entry's priority take turns first + 1 ... first + level.
        first = running.get(key, 0) + row["above"]
        ahead += max(0, min(turn - 1 - first, row["level"]))
        if first < turn <= first + row["level"]:
            same_turn = waiting.filter(priority=priority)
            same_turn = same_turn.filter(api_key_id=key) if key is not None else same_turn.filter(api_key__isnull=True)
            tied_id = same_turn.order_by("id").values_list("id", flat=True)[turn - first - 1]
            ahead += int(tied_id < entry.id)
    return ahead + 1
