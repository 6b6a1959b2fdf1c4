"""Rounds: state from the clock, windows validated, closing picks the winners once, the demo's round."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from studio import tasks
from studio.image_models import offered_models
from studio.models import Entry, Round, Safety
from studio.rounds import close_due_rounds, close_round, current_round
from tests.studio.factories import closed_round, make_entry, make_round


def places(round: Round) -> dict[int, int | None]:
    return dict(round.entries.values_list("pk", "place"))


@pytest.mark.django_db
def test_phase_follows_the_clock():
    now = timezone.now()
    round = make_round(
        prompt_opens_at=now,
        prompt_closes_at=now + timedelta(days=2),
        voting_opens_at=now + timedelta(days=1),
        voting_closes_at=now + timedelta(days=3),
    )
    assert round.phase(now - timedelta(seconds=1)) == "upcoming"
    assert round.phase(now) == "open for GIFs"
    assert round.phase(now + timedelta(days=1, hours=1)) == "open for GIFs and votes"
    assert round.phase(now + timedelta(days=2, hours=1)) == "voting"
    assert round.phase(now + timedelta(days=3)) == "closed"


@pytest.mark.django_db
def test_windows_that_make_no_sense_are_refused():
    now = timezone.now()
    round = Round(
        slug="bad",
        title="Bad",
        theme="t",
        prompt_opens_at=now,
        prompt_closes_at=now - timedelta(hours=1),
        voting_opens_at=now - timedelta(days=1),
        voting_closes_at=now - timedelta(hours=2),
    )
    with pytest.raises(ValidationError) as raised:
        round.full_clean()
    assert set(raised.value.message_dict) == {"prompt_closes_at", "voting_opens_at", "voting_closes_at"}


@pytest.mark.django_db
def test_the_current_round_is_the_open_one_closing_first():
    now = timezone.now()
    make_round(prompt_closes_at=now + timedelta(days=5), voting_closes_at=now + timedelta(days=6))
    sooner = make_round(prompt_closes_at=now + timedelta(days=1))
    closed_round()
    assert current_round() == sooner


@pytest.mark.django_db
def test_closing_picks_the_most_voted_public_entries_as_winners(personas, other_member):
    round = closed_round(winners_count=2)
    third = make_entry(personas.member, round, votes=3)
    first = make_entry(other_member, round, votes=9)
    second = make_entry(personas.admin, round, votes=5)
    hidden = make_entry(personas.member, round, votes=50, hidden=True)
    pending = make_entry(personas.member, round, votes=40, safety=Safety.UNCHECKED)
    assert close_round(round.pk)
    round.refresh_from_db()
    assert round.closed_at is not None
    assert places(round) == {first.pk: 1, second.pk: 2, third.pk: None, hidden.pk: None, pending.pk: None}
    assert list(round.winners()) == [first, second]


@pytest.mark.django_db
def test_a_tie_goes_to_the_earlier_entry(personas, other_member):
    round = closed_round(winners_count=1)
    now = timezone.now()
    later = make_entry(personas.member, round, votes=4, created_at=now - timedelta(days=2))
    earlier = make_entry(other_member, round, votes=4, created_at=now - timedelta(days=2, minutes=5))
    close_round(round.pk)
    assert places(round) == {earlier.pk: 1, later.pk: None}


@pytest.mark.django_db
def test_an_entry_without_votes_does_not_win(personas):
    round = closed_round()
    entry = make_entry(personas.member, round, votes=0)
    close_round(round.pk)
    assert places(round) == {entry.pk: None}


@pytest.mark.django_db
def test_closing_is_idempotent(personas, other_member):
    round = closed_round(winners_count=1)
    winner = make_entry(personas.member, round, votes=2)
    latecomer = make_entry(other_member, round, votes=1)
    assert close_due_rounds() == [round.slug]
    closed_at = Round.objects.get(pk=round.pk).closed_at
    Entry.objects.filter(pk=latecomer.pk).update(vote_count=99)  # nothing may change a closed round's result
    assert close_due_rounds() == []
    assert not close_round(round.pk)
    assert places(round) == {winner.pk: 1, latecomer.pk: None}
    assert Round.objects.get(pk=round.pk).closed_at == closed_at


@pytest.mark.django_db
def test_a_round_still_voting_is_not_closed(personas):
    round = make_round()
    make_entry(personas.member, round, votes=3)
    assert close_due_rounds() == []
    assert not close_round(round.pk)
    round.refresh_from_db()
    assert round.closed_at is None and places(round) == {round.entries.get().pk: None}


@pytest.mark.django_db
def test_the_periodic_task_closes_due_rounds_and_beat_runs_it(personas):
    round = closed_round()
    make_entry(personas.member, round, votes=1)
    assert tasks.close_rounds() == [round.slug]
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["studio.tasks.close_rounds"] <= 60


@pytest.mark.django_db
def test_seed_demo_opens_one_round_for_gifs_and_votes_now_and_only_once():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    round = Round.objects.get()
    assert round.takes_prompts() and round.takes_votes()
    assert "created round" in out.getvalue() and "is open for GIFs and votes" in out.getvalue()
    # Both tiny text-to-image models the demo's nodes sell: a demo member sees the choice.
    assert [model.model_id for model in offered_models(round)] == [
        "livepeer-ai/tiny-sdxl-turbo",
        "livepeer-ai/tiny-sd15",
    ]


@pytest.mark.django_db
def test_seed_demo_gives_a_round_already_open_the_demos_models():
    round = make_round()
    call_command("seed_demo", stdout=StringIO())
    assert len(offered_models(round)) == 2


@pytest.mark.django_db
def test_seed_demo_opens_a_new_round_when_the_last_one_is_over():
    closed_round()
    call_command("seed_demo", stdout=StringIO())
    assert current_round() is not None and Round.objects.count() == 2
