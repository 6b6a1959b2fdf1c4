"""Entry pages unfurl when shared: Open Graph and Twitter card tags with absolute URLs to the GIF."""

from __future__ import annotations

import re

import pytest

from tests.studio.factories import make_entry, make_round


@pytest.fixture(autouse=True)
def public_host(settings):
    settings.ALLOWED_HOSTS = ["studio.example", "testserver"]


def meta(html: str, key: str) -> str:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    assert found, f"no {key} meta tag"
    return found.group(1)


@pytest.mark.django_db
def test_entry_page_carries_open_graph_and_twitter_card_tags(client, personas):
    round = make_round(title="Rain jam", theme="robots in the rain")
    entry = make_entry(personas.member, round, votes=3, prompt="a robot dancing")
    html = client.get(entry.get_absolute_url(), HTTP_HOST="studio.example").content.decode()
    gif = f"http://studio.example/media/jobs/{entry.job_id}/image-to-video/video.gif"
    assert meta(html, "og:image") == gif
    assert meta(html, "twitter:image") == gif
    assert meta(html, "og:image:type") == "image/gif"
    assert meta(html, "og:video") == f"http://studio.example/media/jobs/{entry.job_id}/image-to-video/video.mp4"
    assert meta(html, "og:url") == f"http://studio.example/entries/{entry.pk}/"
    assert meta(html, "twitter:card") == "summary_large_image"
    assert meta(html, "og:title") == meta(html, "twitter:title") == "“a robot dancing”, a GIF for Rain jam"
    assert "theme: robots in the rain · 3 votes" in meta(html, "og:description")
    assert 'value="http://studio.example/entries/' in html  # the link to copy
    assert 'href="https://twitter.com/intent/tweet?text=' in html


@pytest.mark.django_db
def test_share_tags_follow_a_secure_proxy(client, personas, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    entry = make_entry(personas.member, make_round())
    html = client.get(entry.get_absolute_url(), HTTP_HOST="studio.example", HTTP_X_FORWARDED_PROTO="https").content
    assert meta(html.decode(), "og:image").startswith("https://studio.example/media/")


@pytest.mark.django_db
def test_unknown_entry_is_404(client):
    assert client.get("/entries/424242/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"safety": "unchecked"}, "Waiting for a moderator's review"),
        ({"safety": "flagged"}, "Waiting for a moderator's review"),
        ({"hidden": True}, "A moderator hid this entry"),
    ],
    ids=["unchecked", "flagged", "hidden"],
)
def test_an_entry_others_cannot_see_offers_no_share_link_and_says_why(client, personas, fields, says):
    entry = make_entry(personas.member, make_round(), **fields)
    client.force_login(personas.member)
    html = client.get(entry.get_absolute_url()).content.decode()
    assert 'id="share-x"' not in html and 'id="share-url"' not in html
    assert says in html


@pytest.mark.django_db
def test_once_approved_the_entrant_can_share_it(client, personas):
    entry = make_entry(personas.member, make_round(), safety="unchecked")
    entry.approved_at = entry.created_at
    entry.save()
    client.force_login(personas.member)
    html = client.get(entry.get_absolute_url()).content.decode()
    assert 'id="share-x"' in html and 'id="not-shared"' not in html
