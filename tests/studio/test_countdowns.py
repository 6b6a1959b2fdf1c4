"""Countdowns to a round's windows: worded on the server (and the same way by countdown.js), the moment beside."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from studio.countdowns import round_countdowns, time_left
from tests.studio.factories import make_round


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "now"),
        (-5, "now"),
        (1, "in 1 second"),
        (59, "in 59 seconds"),
        (61, "in 1 minute 1 second"),
        (3600, "in 1 hour"),
        (2 * 86400 + 5 * 3600 + 59, "in 2 days 5 hours"),
        (86400 + 30, "in 1 day"),
    ],
)
def test_time_left_says_the_two_largest_units(seconds, words):
    assert time_left(seconds) == words


@pytest.mark.django_db
def test_a_rounds_countdowns_follow_its_windows(client):
    now = timezone.now()
    round = make_round(
        prompt_opens_at=now - timedelta(hours=1),
        prompt_closes_at=now + timedelta(hours=3, minutes=10),
        voting_opens_at=now + timedelta(days=1),
        voting_closes_at=now + timedelta(days=2),
    )
    assert [(c.label, c.left) for c in round_countdowns(round, now)] == [
        ("GIF window closes", "in 3 hours 10 minutes"),
        ("Voting opens", "in 1 day"),
    ]
    later = now + timedelta(days=1, hours=1)
    assert [c.label for c in round_countdowns(round, later)] == ["Voting closes"]
    assert round_countdowns(round, now + timedelta(days=3)) == []
    for url in ("/", round.get_absolute_url()):
        html = client.get(url).content.decode()
        assert 'GIF window closes <span class="countdown-left" role="timer">in 3 hours' in html
        closes = round.prompt_closes_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert f'<li data-ends="{closes}">' in html and f'<time datetime="{closes}">' in html
