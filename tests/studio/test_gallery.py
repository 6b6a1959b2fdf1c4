"""The gallery: a round's public entries by votes or newest, page by page with htmx; leaderboard; past rounds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from studio.rounds import close_round
from tests.studio.factories import closed_round, make_entry, make_round

CARD = re.compile(r'<li class="entry-card" id="entry-(\d+)"')


def shown(html: str) -> list[int]:
    return [int(pk) for pk in CARD.findall(html)]


@pytest.mark.django_db
def test_gallery_sorts_by_votes_then_by_newest(client, personas):
    round = make_round()
    now = timezone.now()
    old_popular = make_entry(personas.member, round, votes=5, created_at=now - timedelta(hours=3))
    new_quiet = make_entry(personas.member, round, votes=1, created_at=now - timedelta(hours=1))
    middle = make_entry(personas.member, round, votes=3, created_at=now - timedelta(hours=2))
    gallery = client.get(round.get_absolute_url()).content.decode().split('id="gallery"')[1]
    assert shown(gallery) == [old_popular.pk, middle.pk, new_quiet.pk]
    newest = client.get(round.get_absolute_url() + "?sort=new").content.decode().split('id="gallery"')[1]
    assert shown(newest) == [new_quiet.pk, middle.pk, old_popular.pk]


@pytest.mark.django_db
def test_gallery_loads_page_by_page_with_a_plain_link_for_no_js(client, personas):
    round = make_round()
    entries = [make_entry(personas.member, round, votes=v) for v in range(30, 0, -1)]  # 30 entries, ranked
    html = client.get(round.get_absolute_url()).content.decode()
    gallery = html.split('id="gallery"')[1]
    assert shown(gallery) == [e.pk for e in entries[:12]]
    assert 'hx-get="?sort=votes&amp;page=2" hx-trigger="revealed"' in gallery
    assert '<a href="?sort=votes&amp;page=2" id="next-page">' in gallery

    page2 = client.get(round.get_absolute_url() + "?sort=votes&page=2", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in page2 and 'id="leaderboard"' not in page2
    assert shown(page2) == [e.pk for e in entries[12:24]]
    assert 'hx-get="?sort=votes&amp;page=3"' in page2

    page3 = client.get(round.get_absolute_url() + "?sort=votes&page=3", HTTP_HX_REQUEST="true").content.decode()
    assert shown(page3) == [e.pk for e in entries[24:]]
    assert "revealed" not in page3  # the last page asks for no more

    no_js = client.get(round.get_absolute_url() + "?sort=votes&page=2").content.decode()
    assert "<html" in no_js and shown(no_js.split('id="gallery"')[1]) == [e.pk for e in entries[12:24]]


def leaderboard(client, round) -> str:
    return client.get(round.get_absolute_url()).content.decode().split('id="leaderboard"')[1].split("</section>")[0]


@pytest.mark.django_db
def test_leaderboard_ranks_public_entries_and_follows_votes(client, personas, other_member):
    round = make_round()
    make_entry(personas.member, round, votes=1, prompt="first place")
    second = make_entry(personas.member, round, votes=0, prompt="second place")
    make_entry(personas.member, round, votes=9, prompt="hidden one", hidden=True)
    board = leaderboard(client, round)
    assert board.index("first place") < board.index("second place")
    assert "hidden one" not in board
    for voter in (other_member, personas.admin):
        client.force_login(voter)
        client.post(f"/entries/{second.pk}/vote/")
    board = leaderboard(client, round)
    assert board.index("second place") < board.index("first place")
    assert f'<li data-entry="{second.pk}">' in board and 'data-votes="2"' in board


@pytest.mark.django_db
def test_past_rounds_list_their_winners(client, personas):
    past = closed_round(title="Winter jam", winners_count=1)
    winner = make_entry(personas.member, past, votes=4, prompt="the winning gif")
    make_entry(personas.member, past, votes=1, prompt="runner up")
    close_round(past.pk)
    live = make_round(title="Spring jam")
    html = client.get("/rounds/").content.decode()
    assert "Spring jam" in html.split('id="live-rounds"')[1].split("</section>")[0]
    past_section = html.split('id="past-rounds"')[1]
    assert "Winter jam" in past_section and f'id="entry-{winner.pk}"' in past_section
    assert "runner up" not in past_section
    round_page = client.get(past.get_absolute_url()).content.decode()
    assert f'id="entry-{winner.pk}"' in round_page.split('id="winners"')[1].split("</section>")[0]
    assert live.title not in past_section


def past_round_with_winners(member, number: int, days_ago: int = 1):
    now = timezone.now()
    past = make_round(
        title=f"Past jam {number}",
        voting_closes_at=now - timedelta(days=days_ago),
        voting_opens_at=now - timedelta(days=days_ago + 2),
        prompt_opens_at=now - timedelta(days=days_ago + 2),
        prompt_closes_at=now - timedelta(days=days_ago + 1),
        winners_count=2,
    )
    make_entry(member, past, votes=3)
    make_entry(member, past, votes=1)
    close_round(past.pk)
    return past


def queries_for_rounds_page(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/rounds/").content.decode()
    return len(queries), html


@pytest.mark.django_db
def test_the_rounds_page_makes_as_many_queries_for_many_past_rounds_as_for_two(client, personas):
    for number in range(2):
        past_round_with_winners(personas.member, number)
    few, html = queries_for_rounds_page(client)
    assert len(shown(html.split('id="past-rounds"')[1])) == 4
    for number in range(2, 8):
        past_round_with_winners(personas.member, number)
    many, html = queries_for_rounds_page(client)
    assert len(shown(html.split('id="past-rounds"')[1])) == 16
    assert many == few


@pytest.mark.django_db
def test_past_rounds_come_a_page_at_a_time_newest_first(client, personas):
    rounds = [past_round_with_winners(personas.member, number, days_ago=number + 1) for number in range(12)]
    first = client.get("/rounds/").content.decode().split('id="past-rounds"')[1]
    listed = re.findall(r'data-round="([^"]+)"', first)
    assert listed == [r.slug for r in rounds[:10]]
    assert '<a href="?page=2" id="older-rounds"' in first
    second = client.get("/rounds/?page=2").content.decode().split('id="past-rounds"')[1]
    assert re.findall(r'data-round="([^"]+)"', second) == [r.slug for r in rounds[10:]]
    assert 'id="older-rounds"' not in second and '<a href="?page=1" id="newer-rounds"' in second
    assert client.get("/rounds/?page=99").status_code == 200


@pytest.mark.django_db
def test_unknown_round_is_404(client):
    assert client.get("/rounds/no-such-round/").status_code == 404


@pytest.mark.django_db
def test_a_bad_page_number_shows_the_last_page_not_an_error(client, personas):
    round = make_round()
    entry = make_entry(personas.member, round)
    response = client.get(round.get_absolute_url() + "?page=999&sort=sideways")
    assert response.status_code == 200
    assert shown(response.content.decode().split('id="gallery"')[1]) == [entry.pk]
