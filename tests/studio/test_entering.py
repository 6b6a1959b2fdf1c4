"""Enter into the round: only the maker, only a finished GIF, only while the round takes entries, once."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from livepeer_ai.gateway.models import JobStatus
from studio import entries
from studio.entries import enter_round, job_safety
from studio.models import Entry, Safety
from studio.refusals import Refused
from tests.studio.conftest import text_of
from tests.studio.factories import make_generation, make_round


@pytest.mark.django_db
def test_the_maker_enters_a_finished_gif_into_its_round(client, personas):
    round = make_round()
    job = make_generation(personas.member, round).job
    client.force_login(personas.member)
    assert b'id="enter-round"' in client.get(job.get_absolute_url()).content
    response = client.post(f"/jobs/{job.id}/enter/")
    entry = Entry.objects.get()
    assert response.status_code == 302 and response["Location"] == entry.get_absolute_url()
    assert (entry.round, entry.job, entry.author) == (round, job, personas.member)
    html = client.get(job.get_absolute_url()).content.decode()
    assert 'id="entry-link"' in html and 'id="enter-round"' not in html


@pytest.mark.django_db
def test_htmx_enter_redirects_the_client_to_the_entry(client, personas):
    job = make_generation(personas.member, make_round()).job
    client.force_login(personas.member)
    response = client.post(f"/jobs/{job.id}/enter/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == Entry.objects.get().get_absolute_url()


@pytest.mark.django_db
def test_a_gif_is_entered_once(client, personas):
    job = make_generation(personas.member, make_round()).job
    client.force_login(personas.member)
    client.post(f"/jobs/{job.id}/enter/")
    response = client.post(f"/jobs/{job.id}/enter/", HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "This GIF is already entered." in text_of(response)
    assert Entry.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELED])
def test_only_a_finished_gif_is_entered(personas, status):
    job = make_generation(personas.member, make_round(), status=status).job
    with pytest.raises(Refused, match="Only a finished GIF can be entered."):
        enter_round(job, personas.member)


@pytest.mark.django_db
def test_no_entry_after_the_round_stops_taking_them(client, personas):
    round = make_round()
    job = make_generation(personas.member, round).job
    round.prompt_closes_at = timezone.now() - timedelta(minutes=1)
    round.save()
    client.force_login(personas.member)
    assert b'id="enter-round"' not in client.get(job.get_absolute_url()).content
    response = client.post(f"/jobs/{job.id}/enter/")
    assert response.status_code == 409
    assert f"“{round.title}” is not taking entries any more." in text_of(response)
    assert not Entry.objects.exists()


@pytest.mark.django_db
def test_a_gif_made_outside_any_round_has_nothing_to_enter(personas):
    job = make_generation(personas.member, None).job
    with pytest.raises(Refused, match="outside any round"):
        enter_round(job, personas.member)


@pytest.mark.django_db
def test_entries_per_member_are_limited_by_the_round(personas):
    round = make_round(entries_per_member=1)
    enter_round(make_generation(personas.member, round).job, personas.member)
    with pytest.raises(Refused, match="You have entered the 1 GIFs this round allows."):
        enter_round(make_generation(personas.member, round).job, personas.member)


@pytest.mark.django_db(transaction=True)
def test_two_enters_at_once_keep_to_the_rounds_limit(personas):
    round = make_round(entries_per_member=1)
    jobs = [make_generation(personas.member, round).job for _ in range(2)]
    both_ready = threading.Barrier(2)

    def job_safety_then_wait(job):
        # Both requests get this far before either goes on: the interleaving in which each saw no entry of
        # the member's yet and both entered. (Where a request holds a lock here, the other cannot come; the
        # barrier then gives way after its timeout and the test still shows how many entries were made.)
        safety = job_safety(job)
        try:
            both_ready.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return safety

    outcomes: list[str] = []

    def enter(job):
        try:
            enter_round(job, personas.member)
            outcomes.append("entered")
        except Refused as refusal:
            outcomes.append(refusal.message)
        finally:
            connection.close()

    with mock.patch.object(entries, "job_safety", job_safety_then_wait):
        threads = [threading.Thread(target=enter, args=[job]) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(outcomes) == ["You have entered the 1 GIFs this round allows.", "entered"]
    assert Entry.objects.filter(author=personas.member).count() == 1


@pytest.mark.django_db
def test_someone_elses_gif_cannot_be_entered(client, personas, other_member):
    job = make_generation(personas.member, make_round()).job
    client.force_login(other_member)
    assert b'id="enter-round"' not in client.get(job.get_absolute_url()).content
    assert client.post(f"/jobs/{job.id}/enter/").status_code == 404
    assert not Entry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("checked", "nsfw", "safety"),
    [(True, False, Safety.CLEAN), (False, False, Safety.UNCHECKED), (True, True, Safety.FLAGGED)],
    ids=["checked-clean", "no-checker", "flagged"],
)
def test_an_entry_carries_what_the_safety_checker_said(personas, checked, nsfw, safety):
    job = make_generation(personas.member, make_round(), checked=checked, nsfw=nsfw).job
    assert enter_round(job, personas.member).safety == safety


@pytest.mark.django_db
def test_interpolation_adds_nothing_to_check_but_every_other_stage_must_be_checked(personas):
    job = make_generation(personas.member, checked=True).job
    job.stages = [*job.stages, "frame-interpolation"]
    job.outputs["frame-interpolation"] = {"gif": "x.gif", "nsfw": False, "nsfw_checked": False}
    assert job_safety(job) == Safety.CLEAN
    job.stages = [*job.stages, "upscale"]
    job.outputs["upscale"] = {"gif": "y.gif", "nsfw": False, "nsfw_checked": False}
    assert job_safety(job) == Safety.UNCHECKED
