"""Staff create and edit rounds on the site: only staff, windows in order, a closed round's windows fixed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from livepeer_ai.registry import curation
from livepeer_ai.registry.models import ModelEntry
from studio.models import Round
from tests.studio.conftest import text_of
from tests.studio.factories import closed_round, make_round

LOCAL = "%Y-%m-%dT%H:%M"


def round_fields(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    fields = {
        "title": "Neon nights",
        "slug": "neon-nights",
        "theme": "a city at night",
        "description": "",
        "prompt_opens_at": now.strftime(LOCAL),
        "prompt_closes_at": (now + timedelta(days=2)).strftime(LOCAL),
        "voting_opens_at": (now + timedelta(days=1)).strftime(LOCAL),
        "voting_closes_at": (now + timedelta(days=3)).strftime(LOCAL),
        "allow_upscale": "on",
        "max_text_to_image_steps": 20,
        "max_image_to_video_steps": 12,
        "generations_per_member": 5,
        "entries_per_member": 2,
        "winners_count": 3,
    }
    return {**fields, **overrides}


@pytest.mark.django_db
def test_only_staff_reach_the_round_forms(client, personas):
    round = make_round()
    for url in ("/rounds/new/", f"/rounds/{round.slug}/edit/"):
        assert client.get(url)["Location"].startswith("/accounts/login/")
        client.force_login(personas.member)
        assert client.get(url).status_code == 403
        assert client.post(url, round_fields()).status_code == 403
        client.logout()
    assert not Round.objects.filter(slug="neon-nights").exists()
    assert 'id="new-round"' not in client.get("/rounds/").content.decode()


@pytest.mark.django_db
def test_staff_create_a_round_and_it_is_on(client, personas):
    client.force_login(personas.admin)
    assert 'id="new-round"' in client.get("/rounds/").content.decode()
    response = client.post("/rounds/new/", round_fields())
    assert response.status_code == 302 and response["Location"] == "/rounds/neon-nights/"
    round = Round.objects.get(slug="neon-nights")
    assert round.takes_prompts() and not round.takes_votes()
    assert (round.generations_per_member, round.allow_upscale, round.allow_interpolation) == (5, True, False)
    page = text_of(client.get(response["Location"]))
    assert "Round “Neon nights” created." in page and 'id="edit-round"' in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"prompt_closes_at": "2020-01-01T00:00"}, "prompt_closes_at", "must close after it opens"),
        ({"voting_opens_at": "2020-01-01T00:00"}, "voting_opens_at", "Voting cannot open before"),
        ({"voting_closes_at": "2020-01-01T00:00"}, "voting_closes_at", "must close after it opens"),
        ({"slug": "new"}, "slug", "choose another"),
        ({"slug": "not a slug"}, "slug", "letters, numbers"),
        ({"max_text_to_image_steps": 0}, "max_text_to_image_steps", "greater than or equal to 1"),
        ({"prompt_opens_at": "yesterday"}, "prompt_opens_at", "Enter a valid date/time"),
    ],
)
def test_a_round_with_windows_out_of_order_is_refused_with_the_reason(client, personas, overrides, field, message):
    client.force_login(personas.admin)
    response = client.post("/rounds/new/", round_fields(**overrides))
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in response.content.decode() and message in text_of(response)
    assert not Round.objects.exists()


@pytest.mark.django_db
def test_staff_edit_a_round(client, personas):
    round = make_round(title="Old title")
    client.force_login(personas.admin)
    form = client.get(f"/rounds/{round.slug}/edit/").content.decode()
    assert 'value="Old title"' in form and 'type="datetime-local"' in form
    fields = round_fields(slug=round.slug, title="New title", generations_per_member=1)
    assert client.post(f"/rounds/{round.slug}/edit/", fields).status_code == 302
    round.refresh_from_db()
    assert (round.title, round.generations_per_member) == ("New title", 1)
    refused = client.post(f"/rounds/{round.slug}/edit/", {**fields, "voting_closes_at": fields["prompt_opens_at"]})
    assert refused.status_code == 400
    round.refresh_from_db()
    assert round.voting_closes_at > round.prompt_closes_at


@pytest.mark.django_db
def test_a_closed_rounds_windows_stay_but_its_words_may_change(client, personas):
    round = closed_round()
    round.closed_at = timezone.now()
    round.save()
    client.force_login(personas.admin)
    current = {
        name: getattr(round, name).strftime(LOCAL)
        for name in ("prompt_opens_at", "prompt_closes_at", "voting_opens_at", "voting_closes_at")
    }
    fields = round_fields(slug=round.slug, title="Renamed", **current)
    assert client.post(f"/rounds/{round.slug}/edit/", fields).status_code == 302
    moved = client.post(
        f"/rounds/{round.slug}/edit/", {**fields, "voting_closes_at": round_fields()["voting_closes_at"]}
    )
    assert moved.status_code == 400 and "its windows stay as they were" in text_of(moved)


@pytest.mark.django_db
def test_staff_pick_the_models_a_round_offers_the_default_ticked_for_a_new_one(client, personas):
    client.force_login(personas.admin)
    models = {entry.model_id: entry for entry in ModelEntry.objects.filter(pipeline="text-to-image")}
    turbo, sd15 = models["livepeer-ai/tiny-sdxl-turbo"], models["livepeer-ai/tiny-sd15"]
    form = client.get("/rounds/new/").content.decode()
    ticked = re.findall(r'<input type="checkbox" name="text_to_image_models" value="(\d+)"[^>]*checked', form)
    assert ticked == [str(turbo.pk)]
    assert "livepeer-ai/tiny-sd15 (Stable Diffusion 1.x)" in form
    assert client.post("/rounds/new/", round_fields(text_to_image_models=[turbo.pk, sd15.pk])).status_code == 302
    round = Round.objects.get(slug="neon-nights")
    assert set(round.text_to_image_models.all()) == {turbo, sd15}

    # A model the curators disabled since stays listed on the round's page, so saving keeps it.
    curation.disable(sd15, personas.admin)
    edit = client.get(f"/rounds/{round.slug}/edit/").content.decode()
    assert re.search(rf'value="{sd15.pk}"[^>]*checked', edit)
    fields = round_fields(slug=round.slug, text_to_image_models=[turbo.pk])
    assert client.post(f"/rounds/{round.slug}/edit/", fields).status_code == 302
    assert list(round.text_to_image_models.all()) == [turbo]


@pytest.mark.django_db
def test_a_round_may_offer_only_text_to_image_models(client, personas):
    client.force_login(personas.admin)
    video = ModelEntry.objects.get(pipeline="image-to-video")
    response = client.post("/rounds/new/", round_fields(text_to_image_models=[video.pk]))
    assert response.status_code == 400
    assert 'id="id_text_to_image_models_error"' in response.content.decode()
    assert not Round.objects.exists()
