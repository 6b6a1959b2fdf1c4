"""Votes: one per member per entry, not on your own, only in the voting window, counted atomically."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from studio.models import Entry, Round, Safety, Vote
from studio.refusals import Refused
from studio.voting import cast_vote, take_back_vote
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
def test_a_visitors_vote_comes_back_to_the_entry_after_login_and_is_cast_on_confirmation(client, entry, other_member):
    back_here = f"/accounts/login/?next=/entries/{entry.pk}/%3Fvote%3Dconfirm"
    response = client.post(f"/entries/{entry.pk}/vote/", HTTP_REFERER=f"http://testserver/rounds/{entry.round.slug}/")
    assert response.status_code == 302 and response["Location"] == back_here
    response = client.post(f"/entries/{entry.pk}/vote/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == back_here
    page = client.get(entry.get_absolute_url()).content.decode()
    assert f'href="{back_here}" id="login-to-vote"' in page and 'id="vote-button"' not in page

    logged_in = client.post(
        "/accounts/login/",
        {
            "username": other_member.username,
            "password": "other-pass-1234",
            "next": f"/entries/{entry.pk}/?vote=confirm",
        },
    )
    assert logged_in["Location"] == f"/entries/{entry.pk}/?vote=confirm"
    # Landing there casts nothing (a GET never votes): the page asks, and the button posts.
    confirm = client.get(logged_in["Location"]).content.decode()
    assert votes_of(entry) == (0, 0)
    assert 'id="confirm-vote-notice"' in confirm and 'id="vote-button"' in confirm
    assert client.post(f"/entries/{entry.pk}/vote/").status_code == 302
    assert votes_of(entry) == (1, 1)


@pytest.mark.django_db
def test_a_member_takes_a_vote_back_within_the_window(client, entry, other_member):
    client.force_login(other_member)
    client.post(f"/entries/{entry.pk}/vote/")
    assert 'id="take-back-vote"' in client.get(entry.get_absolute_url()).content.decode()
    response = client.post(f"/entries/{entry.pk}/vote/take-back/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Vote taken back." in text_of(response)
    assert votes_of(entry) == (0, 0)
    again = client.post(f"/entries/{entry.pk}/vote/take-back/")
    assert again.status_code == 409 and "no vote on this entry to take back" in text_of(again)
    assert votes_of(entry) == (0, 0)


@pytest.mark.django_db
def test_a_vote_stays_once_voting_has_closed(client, entry, other_member):
    cast_vote(entry, other_member)
    Round.objects.filter(pk=entry.round_id).update(voting_closes_at=timezone.now() - timedelta(minutes=1))
    entry.refresh_from_db()
    client.force_login(other_member)
    assert 'id="take-back-vote"' not in client.get(entry.get_absolute_url()).content.decode()
    response = client.post(f"/entries/{entry.pk}/vote/take-back/")
    assert response.status_code == 409 and "votes stay as they are" in text_of(response)
    assert votes_of(entry) == (1, 1)
    with pytest.raises(Refused):
        take_back_vote(entry, other_member)


@pytest.mark.django_db
def test_taking_back_needs_a_login_and_touches_only_your_own_vote(client, entry, other_member, personas):
    cast_vote(entry, other_member)
    assert client.post(f"/entries/{entry.pk}/vote/take-back/")["Location"].startswith("/accounts/login/")
    client.force_login(personas.admin)
    assert client.post(f"/entries/{entry.pk}/vote/take-back/").status_code == 409
    assert votes_of(entry) == (1, 1)


@pytest.mark.django_db
def test_voting_from_the_gallery_grid_swaps_only_the_cards_box(client, entry, other_member):
    card = f"card-vote-{entry.pk}"
    anonymous = client.get(entry.round.get_absolute_url()).content.decode()
    assert f"/entries/{entry.pk}/%3Fvote%3Dconfirm" in anonymous  # a visitor's card: log in to vote
    client.force_login(other_member)
    grid = client.get(entry.round.get_absolute_url()).content.decode()
    assert f'hx-post="/entries/{entry.pk}/vote/" hx-target="#{card}"' in grid
    voted = client.post(f"/entries/{entry.pk}/vote/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET=card)
    html = voted.content.decode()
    assert voted.status_code == 200 and html.lstrip().startswith(f'<div class="card-vote" id="{card}">')
    assert '<span class="votes">1</span>' in html and f"/entries/{entry.pk}/vote/take-back/" in html
    assert votes_of(entry) == (1, 1)
    # The grid remembers the vote on the next visit, and takes it back the same way.
    assert (
        f'hx-post="/entries/{entry.pk}/vote/take-back/"' in client.get(entry.round.get_absolute_url()).content.decode()
    )
    back = client.post(f"/entries/{entry.pk}/vote/take-back/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET=card)
    assert '<span class="votes">0</span>' in back.content.decode() and votes_of(entry) == (0, 0)
    refused = client.post(f"/entries/{entry.pk}/vote/take-back/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET=card)
    assert refused.status_code == 409 and 'role="status"' in refused.content.decode()


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
