"""The hourly earnings rollup stays equal to the tickets it sums, exactly, through receipt and redemption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from livepeer_ai.payments.earnings import hour_of, rebuild
from livepeer_ai.payments.models import EarningsHour, ReceivedTicket, RedemptionStatus
from livepeer_ai.payments.redemption import mark_redeemed_elsewhere, redeem_winning_tickets
from tests.livepeer_ai.payments.conftest import ORCHESTRATOR_A_KEY
from tests.livepeer_ai.payments.test_recipient_and_sender import (  # noqa: F401 - broker is a fixture
    REDEEM_GAS,
    broker,
    make_recipient,
    make_sender,
    serve_until_a_ticket_wins,
)

RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def rollup(recipient: str) -> list[tuple[object, ...]]:
    return [
        (
            row.hour,
            row.tickets,
            int(row.expected_value),
            row.winning_tickets,
            int(row.winning_face_value),
            row.redeemed_tickets,
            int(row.redeemed_value),
            row.redemption_gas,
        )
        for row in EarningsHour.objects.filter(recipient=recipient).order_by("hour")
    ]


@pytest.mark.django_db
def test_rollup_counts_tickets_as_they_are_received_and_redeemed_on_chain(broker):  # noqa: F811
    recipient, sender = make_recipient(broker), make_sender(broker)
    winner = serve_until_a_ticket_wins(recipient, sender)
    redeem_winning_tickets(recipient.address, broker, ORCHESTRATOR_A_KEY, REDEEM_GAS)
    winner.refresh_from_db()
    assert winner.status == RedemptionStatus.REDEEMED

    tickets = list(ReceivedTicket.objects.filter(recipient=recipient.address))
    rows = EarningsHour.objects.filter(recipient=recipient.address)
    assert sum(row.tickets for row in rows) == len(tickets) >= 1
    assert sum(int(row.expected_value) for row in rows) == sum(int(t.expected_value) for t in tickets)
    assert sum(row.winning_tickets for row in rows) == sum(1 for t in tickets if t.winning)
    assert sum(int(row.redeemed_value) for row in rows) == int(winner.face_value)
    assert sum(row.redemption_gas for row in rows) == winner.gas_used > 0
    assert rows.get(hour=hour_of(winner.redeemed_at)).redeemed_tickets == 1

    # Settling the same ticket again (a crash, a second redeemer) does not count it twice.
    kept = rollup(recipient.address)
    mark_redeemed_elsewhere(winner)
    assert rollup(recipient.address) == kept
    # And rebuilding from the tickets gives the same rows.
    rebuild([recipient.address])
    assert rollup(recipient.address) == kept


@pytest.mark.django_db
def test_rebuild_sums_amounts_beyond_64_bits_exactly_per_hour():
    start = datetime(2026, 11, 1, 10, 59, 59, tzinfo=UTC)
    huge = 2**200 + 12345
    specs = [
        # (received_at, expected value, face value, winning, redeemed at)
        (start, huge, huge * 3, True, start + timedelta(hours=2)),
        (start + timedelta(seconds=1), 7, 2**70, False, None),
        (start + timedelta(seconds=2), huge, 2**70 + 1, True, None),
    ]
    for index, (received_at, ev, face_value, winning, redeemed_at) in enumerate(specs):
        row = ReceivedTicket.objects.create(
            recipient=RECIPIENT,
            sender="0x90F79bf6EB2c4f870365E785982E1f101E93b906",
            manifest_id="text-to-image_m",
            face_value=face_value,
            win_prob=1,
            sender_nonce=index,
            recipient_rand_hash="0x" + "11" * 32,
            recipient_rand="0x" + "22" * 32,
            aux_data="0x",
            signature="0x",
            ticket_hash=f"0x{index:064x}",
            expected_value=ev,
            winning=winning,
            status=RedemptionStatus.REDEEMED if redeemed_at else RedemptionStatus.NOT_WINNING,
            redeemed_at=redeemed_at,
            gas_used=90_000 if redeemed_at else None,
        )
        # received_at is auto_now_add: set the test's times afterwards.
        ReceivedTicket.objects.filter(id=row.id).update(received_at=received_at)

    assert rebuild() == 3
    assert rollup(RECIPIENT) == [
        (datetime(2026, 11, 1, 10, tzinfo=UTC), 1, huge, 1, huge * 3, 0, 0, 0),
        (datetime(2026, 11, 1, 11, tzinfo=UTC), 2, huge + 7, 1, 2**70 + 1, 0, 0, 0),
        (datetime(2026, 11, 1, 12, tzinfo=UTC), 0, 0, 0, 0, 1, huge * 3, 90_000),
    ]
