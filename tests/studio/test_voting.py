"""Votes: one per member per entry, not on your own, only in the voting window, counted atomically."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from studio.models import Entry, Safety, Vote
from studio.refusals import Refused
from studio.voting import cast_vote
from tests.studio.conftest import text_of
from tests.studio.factories import make_entry, make_round


def votes_of(entry: Entry) -> tuple[int, int]:
    """(the entry's counter, the vote rows): they must always agree."""
    entry.refresh_from_db()
    return entry.vote_count, Vote.objects.filter(entry=entry).count()


@pytest.fixture
def entry(personas: Any) -> Entry:
    return make_entry(personas.member, make_round())


@pytest.mark.django_db
def test_a_member_votes_and_the_count_goes_up(client, entry, other_member):
    client.force_login(other_member)
    response = client.post(f"/entries/{entry.pk}/vote/")
    assert response.status_code == 302 and response["Location"] == entry.get_absolute_url()
    assert votes_of(entry) == (1, 1)
    html = client.get(entry.get_absolute_url()).content.decode()
    assert 'id="voted"' in html and 'id="vote-button"' not in html
    assert '<span class="vote-count" id="vote-count">1</span>' in html


@pytest.mark.django_db
def test_htmx_vote_swaps_in_the_new_count(client, entry, other_member):
    client.force_login(other_member)
    response = client.post(f"/entries/{entry.pk}/vote/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="vote"')
    assert '<span class="vote-count" id="vote-count">1</span>' in html
    assert "Vote counted." in html


@pytest.mark.django_db
def test_rejects_a_vote_on_your_own_entry(client, entry, personas):
    client.force_login(personas.member)
    response = client.post(f"/entries/{entry.pk}/vote/")
    assert response.status_code == 403
    assert "You can't vote for your own entry." in text_of(response)
    assert votes_of(entry) == (0, 0)


@pytest.mark.django_db
def test_rejects_a_second_vote_from_the_same_member(client, entry, other_member):
    client.force_login(other_member)
    client.post(f"/entries/{entry.pk}/vote/")
    response = client.post(f"/entries/{entry.pk}/vote/", HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "You already voted for this entry." in text_of(response)
    assert votes_of(entry) == (1, 1)


@pytest.mark.django_db
def test_each_member_has_their_own_vote(entry, other_member, personas):
    cast_vote(entry, other_member)
    cast_vote(entry, personas.admin)
    assert votes_of(entry) == (2, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("opens", "closes", "message"),
    [
        (timedelta(hours=1), timedelta(days=1), "hasn't opened yet"),
        (-timedelta(days=2), -timedelta(days=1), "has closed"),
    ],
    ids=["before", "after"],
)
def test_rejects_a_vote_outside_the_voting_window(client, personas, other_member, opens, closes, message):
    now = timezone.now()
    round = make_round(
        prompt_opens_at=now - timedelta(days=3), voting_opens_at=now + opens, voting_closes_at=now + closes
    )
    entry = make_entry(personas.member, round)
    client.force_login(other_member)
    response = client.post(f"/entries/{entry.pk}/vote/")
    assert response.status_code == 409
    assert f"Voting for “{round.title}” {message}." in text_of(response)
    assert votes_of(entry) == (0, 0)


@pytest.mark.django_db
def test_an_entry_waiting_for_review_takes_no_votes(personas, other_member):
    entry = make_entry(personas.member, make_round(), safety=Safety.UNCHECKED)
    with pytest.raises(Refused, match="not open for votes"):
        cast_vote(entry, other_member)
    assert votes_of(entry) == (0, 0)


@pytest.mark.django_db
def test_visitors_are_sent_to_log_in_and_back(client, entry):
    response = client.post(f"/entries/{entry.pk}/vote/", HTTP_REFERER=f"http://testserver{entry.get_absolute_url()}")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/entries/{entry.pk}/"
    response = client.post(
        f"/entries/{entry.pk}/vote/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{entry.get_absolute_url()}",
    )
    assert response["HX-Redirect"] == f"/accounts/login/?next=/entries/{entry.pk}/"
    assert votes_of(entry) == (0, 0)


@pytest.mark.django_db
def test_voting_is_rate_limited(client, personas, other_member, settings):
    settings.STUDIO_VOTE_RATE = "2/m"
    round = make_round()
    entries = [make_entry(personas.member, round) for _ in range(3)]
    client.force_login(other_member)
    assert [client.post(f"/entries/{e.pk}/vote/").status_code for e in entries] == [302, 302, 429]
    assert votes_of(entries[2]) == (0, 0)


def _at_once(calls: list[Any]) -> list[Any]:
    """Run the calls in threads released together; each result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - the test looks at what each call ended with
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_double_vote_counts_once(personas, other_member):
    entry = make_entry(personas.member, make_round())
    results = _at_once([lambda: cast_vote(Entry.objects.get(pk=entry.pk), other_member)] * 2)
    counted = [r for r in results if isinstance(r, Entry)]
    refused = [r for r in results if isinstance(r, Refused)]
    assert len(counted) == 1 and len(refused) == 1, results
    assert refused[0].message == "You already voted for this entry." and refused[0].status == 409
    assert votes_of(entry) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_the_vote_button_gets_one_vote_and_a_clear_answer(personas, other_member):
    entry = make_entry(personas.member, make_round())
    clients = [Client(), Client()]
    for each in clients:
        each.force_login(other_member)
    responses = _at_once([lambda c=c: c.post(f"/entries/{entry.pk}/vote/", HTTP_HX_REQUEST="true") for c in clients])
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert any("You already voted for this entry." in r.content.decode() for r in responses)
    assert votes_of(entry) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_many_members_voting_at_once_are_all_counted(personas):
    from django.contrib.auth import get_user_model

    entry = make_entry(personas.member, make_round())
    voters = [get_user_model().objects.create_user(f"voter-{i}") for i in range(6)]
    results = _at_once([lambda v=v: cast_vote(Entry.objects.get(pk=entry.pk), v) for v in voters])
    assert all(isinstance(r, Entry) for r in results), results
    assert votes_of(entry) == (6, 6)
