"""The admin: rounds are created there, and every studio model has a working list view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from livepeer_ai.registry.models import ModelEntry
from studio.models import Entry, Report, ReportReason, Round, Safety, Vote
from tests.studio.factories import make_entry, make_round


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["round", "entry", "vote", "report", "generation"])
def test_list_views_open(client, personas, model):
    make_entry(personas.member, make_round())
    client.force_login(personas.admin)
    assert client.get(f"/admin/studio/{model}/").status_code == 200


def add_rows(member, voter, round, count: int) -> None:
    """`count` entries, each with a vote and a report, so every list has `count` more rows."""
    for _ in range(count):
        entry = make_entry(member, round)
        Vote.objects.create(entry=entry, voter=voter)
        Report.objects.create(entry=entry, reporter=voter, reason=ReportReason.OTHER)


def queries_for_list(client, model: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/admin/studio/{model}/").status_code == 200
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["entry", "vote", "report", "generation"])
def test_list_views_make_as_many_queries_for_many_rows_as_for_one(client, personas, other_member, model):
    round = make_round()
    add_rows(personas.member, other_member, round, 1)
    client.force_login(personas.admin)
    one = queries_for_list(client, model)
    add_rows(personas.member, other_member, round, 5)
    assert queries_for_list(client, model) == one


@pytest.mark.django_db
def test_an_admin_creates_a_round(client, personas):
    client.force_login(personas.admin)
    now = timezone.now()

    def stamp(moment):
        return {"0": moment.strftime("%Y-%m-%d"), "1": moment.strftime("%H:%M:%S")}

    fields = {"title": "Autumn jam", "slug": "autumn-jam", "theme": "falling leaves", "description": ""}
    for name, moment in (
        ("prompt_opens_at", now),
        ("prompt_closes_at", now + timedelta(days=1)),
        ("voting_opens_at", now),
        ("voting_closes_at", now + timedelta(days=2)),
    ):
        fields.update({f"{name}_{part}": value for part, value in stamp(moment).items()})
    fields.update(
        {
            "allow_upscale": "on",
            "max_text_to_image_steps": 8,
            "max_image_to_video_steps": 16,
            "generations_per_member": 5,
            "entries_per_member": 2,
            "winners_count": 3,
        }
    )
    sd15 = ModelEntry.objects.get(pipeline="text-to-image", model_id="livepeer-ai/tiny-sd15")
    form = client.get("/admin/studio/round/add/").content.decode()
    assert f'type="checkbox" name="text_to_image_models" value="{sd15.pk}"' in form
    fields["text_to_image_models"] = [sd15.pk]
    response = client.post("/admin/studio/round/add/", fields)
    assert response.status_code == 302, response.content.decode()[:3000]
    round = Round.objects.get(slug="autumn-jam")
    assert (round.allow_upscale, round.allow_interpolation, round.generations_per_member) == (True, False, 5)
    assert list(round.text_to_image_models.all()) == [sd15]


@pytest.mark.django_db
def test_the_approve_action_in_the_admin(client, personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.UNCHECKED)
    client.force_login(personas.admin)
    client.post("/admin/studio/entry/", {"action": "approve_entries", "_selected_action": [entry.pk]})
    assert Entry.objects.get(pk=entry.pk).approved_by == personas.admin
