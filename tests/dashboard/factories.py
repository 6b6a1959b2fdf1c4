"""Plain builders for dashboard tests (no factory library): rows shaped as the gateway and nodes write them."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from django.utils import timezone

from livepeer_ai.gateway.models import Job, Orchestrator, StageAttempt
from livepeer_ai.payments.models import ReceivedTicket, RedemptionStatus

_numbers = itertools.count(1)
GATEWAY = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def make_attempt(orchestrator: Orchestrator | None, outcome: str, **fields: Any) -> StageAttempt:
    job = fields.pop("job", None) or Job.objects.create(prompt="test", stages=["text-to-image"])
    values = {
        "stage": "text-to-image",
        "pipeline": "text-to-image",
        "model_id": "livepeer-ai/tiny-sdxl-turbo",
        "units": 512 * 512,
        "steps": 4,
        "took_s": 1.0,
        "started_at": timezone.now(),
        **fields,
    }
    return StageAttempt.objects.create(job=job, orchestrator=orchestrator, outcome=outcome, **values)


def make_ticket(recipient: str, received_at: datetime | None = None, **fields: Any) -> ReceivedTicket:
    number = next(_numbers)
    values = {
        "sender": GATEWAY,
        "manifest_id": "text-to-image_livepeer-ai/tiny-sdxl-turbo",
        "face_value": 2 * 10**15,
        "win_prob": 1,
        "sender_nonce": number,
        "recipient_rand_hash": "0x" + "ab" * 32,
        "recipient_rand": "0x" + "cd" * 32,
        "aux_data": "0x",
        "signature": "0x",
        "ticket_hash": f"0x{number:064x}",
        "expected_value": 10**13,
        "status": RedemptionStatus.NOT_WINNING,
        **fields,
    }
    ticket = ReceivedTicket.objects.create(recipient=recipient, **values)
    if received_at is not None:
        # received_at is auto_now_add: the test's time is set afterwards.
        ReceivedTicket.objects.filter(id=ticket.id).update(received_at=received_at)
        ticket.refresh_from_db()
    return ticket
