"""The home page invites: the round on now with its best GIFs as a strip, its countdowns, and one call to action."""

from __future__ import annotations

import re

import pytest

from studio.models import Safety
from tests.studio.factories import make_entry, make_generation, make_round


def strip_entries(html: str) -> list[int]:
    strip = html.split('id="best-entries"', 1)[1].split("</ol>", 1)[0]
    return [int(pk) for pk in re.findall(r'<li data-entry="(\d+)">', strip)]


@pytest.mark.django_db
def test_the_strip_shows_the_rounds_best_public_entries_first(client, personas, other_member):
    round = make_round()
    second = make_entry(personas.member, round, votes=3)
    first = make_entry(other_member, round, votes=5)
    make_entry(personas.member, round, votes=9, safety=Safety.UNCHECKED)  # waiting for review: not shown
    make_entry(other_member, round, votes=9, hidden=True)
    make_entry(other_member, make_round(), votes=20)  # another round's
    html = client.get("/").content.decode()
    assert strip_entries(html) == [first.pk, second.pk]
    assert f'href="{first.get_absolute_url()}"' in html and f'src="{first.gif_url}"' in html
    assert 'id="countdowns"' in html.split('id="round-banner"', 1)[1].split("</section>", 1)[0]


@pytest.mark.django_db
def test_the_strip_holds_at_most_eight(client, personas):
    round = make_round()
    for votes in range(10):
        make_entry(personas.member, round, votes=votes)
    assert len(strip_entries(client.get("/").content.decode())) == 8


@pytest.mark.django_db
def test_a_round_without_entries_asks_for_the_first(client, personas):
    make_round()
    html = client.get("/").content.decode()
    assert 'id="best-entries"' not in html and 'id="no-entries-yet"' in html


def calls_to_action(html: str) -> list[str]:
    return re.findall(r'<a class="button" id="cta" href="([^"]*)"', html) + re.findall(
        r'class="button"(?! id="cta")', html
    )


@pytest.mark.django_db
def test_a_visitor_has_one_call_to_action_to_sign_up(client):
    make_round()
    assert calls_to_action(client.get("/").content.decode()) == ["/accounts/signup/?next=/"]


@pytest.mark.django_db
def test_a_member_is_sent_to_the_form_and_with_no_gifs_left_to_the_votes(client, personas):
    round = make_round(generations_per_member=1)
    client.force_login(personas.member)
    assert calls_to_action(client.get("/").content.decode()) == ["#make-a-gif"]
    assert 'id="make-a-gif"' in client.get("/").content.decode()
    make_generation(personas.member, round)
    assert calls_to_action(client.get("/").content.decode()) == [round.get_absolute_url()]


@pytest.mark.django_db
def test_the_api_docs_are_linked_for_developers(client):
    html = client.get("/").content.decode()
    assert 'id="footer-api-docs"' in html and 'href="/api/v1/docs"' in html
