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
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from livepeer_ai.gateway.models import QueuedStage, QueueState


def running_by_key(pipeline: str, model_id: str) -> dict[int | None, int]:
    """Per API key id (None: jobs without one), its stages running on the capability now."""
    rows = (
        QueuedStage.objects.filter(state=QueueState.RUNNING, pipeline=pipeline, model_id=model_id)
        .values("job__api_key_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["job__api_key_id"]: row["n"] for row in rows}


def fair_head(waiting: QuerySet[QueuedStage], pipeline: str, model_id: str, count: int) -> list[QueuedStage]:
    """The first `count` waiting stages in fair order: priority, then each key's turn, then arrival."""
    cap = settings.API_KEY_MAX_RUNNING
    if not cap:
        # One client waiting (the usual deep queue: one key's burst): its turns are its arrival order,
        # and the ordered index serves them without numbering every waiting row.
        head: list[Any] = list(waiting.annotate(client=F("job__api_key_id")).order_by("-priority", "id")[:count])
        clients = {row.client for row in head}
        if not head or (len(clients) == 1 and not waiting_other_than(waiting, clients.pop())):
            return head
    running = running_by_key(pipeline, model_id)
    holding: Any = Case(
        *[When(job__api_key_id=key, then=Value(n)) for key, n in running.items() if key is not None],
        When(job__api_key__isnull=True, then=Value(running.get(None, 0))),
        default=Value(0),
        output_field=IntegerField(),
    )
    turn = Window(RowNumber(), partition_by=[F("job__api_key_id")], order_by=[F("id").asc()]) + holding
    rows = waiting.annotate(turn=turn)
    if cap:
        # Jobs without a key are never capped: their turn counts as 0 here.
        rows = rows.annotate(keyed_turn=Case(When(job__api_key__isnull=True, then=Value(0)), default=turn))
        rows = rows.filter(keyed_turn__lte=cap)
    return list(rows.order_by("-priority", "turn", "id")[:count])


def waiting_other_than(waiting: QuerySet[QueuedStage], api_key_id: int | None) -> bool:
    if api_key_id is None:
        return waiting.filter(job__api_key__isnull=False).exists()
    return waiting.exclude(job__api_key_id=api_key_id).exists()
