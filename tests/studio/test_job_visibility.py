"""Who sees what of a job page: a hidden entry's job is gone for others, media waits for review or is withheld
when flagged (page, WebSocket and receipt links alike), and jobs the studio didn't make have no page."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from livepeer_ai.asgi import application
from livepeer_ai.gateway.models import ApiKey, Job, Receipt
from studio.models import Entry, Safety
from studio.moderation import hide
from tests.studio.factories import make_entry, make_generation, make_round

ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


def page_for(user, job: Job, **headers) -> tuple[int, str]:
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(f"/jobs/{job.id}/", **headers)
    return response.status_code, response.content.decode()


def media_of(job: Job) -> str:
    return f"/media/jobs/{job.id}/"


def hidden_entrys_job(personas) -> Job:
    entry = make_entry(personas.member, make_round(), safety=Safety.CLEAN, prompt="a secret robot")
    hide(entry, personas.admin)
    return Job.objects.get(entry=entry)


def entry_awaiting_review(personas) -> Entry:
    return make_entry(personas.member, make_round(), safety=Safety.UNCHECKED)


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [{}, {"HTTP_HX_REQUEST": "true"}], ids=["page", "htmx-fragment"])
def test_a_hidden_entrys_job_page_is_gone_for_visitors_and_other_members(personas, other_member, headers):
    job = hidden_entrys_job(personas)
    for viewer in (None, other_member, personas.operator):
        status, html = page_for(viewer, job, **headers)
        assert status == 404
        assert media_of(job) not in html and "a secret robot" not in html


@pytest.mark.django_db
def test_a_hidden_entrys_job_page_still_opens_for_its_maker_and_moderators(personas):
    job = hidden_entrys_job(personas)
    for viewer in (personas.member, personas.admin):
        status, html = page_for(viewer, job)
        assert status == 200
        assert 'id="result-gif"' in html and f'src="{media_of(job)}image-to-video/video.gif"' in html


@pytest.mark.django_db
def test_an_entry_awaiting_review_keeps_its_media_from_others(personas, other_member):
    job = entry_awaiting_review(personas).job
    for viewer in (None, other_member):
        status, html = page_for(viewer, job)
        assert status == 200
        assert 'id="media-withheld"' in html and "waits for a moderator" in html
        assert 'id="result-gif"' not in html and media_of(job) not in html
    for viewer in (personas.member, personas.admin):
        html = page_for(viewer, job)[1]
        assert 'id="media-withheld"' not in html and 'id="result-gif"' in html


@pytest.mark.django_db
def test_an_approved_entrys_media_is_shown_to_everyone(personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.UNCHECKED, approved_at=timezone.now())
    html = page_for(None, entry.job)[1]
    assert 'id="result-gif"' in html and 'id="media-withheld"' not in html


@pytest.mark.django_db
def test_a_flagged_gifs_receipts_are_not_linked_for_others(personas, other_member):
    job = make_generation(personas.member, checked=True, nsfw=True).job
    receipt = Receipt.objects.create(
        job=job,
        stage="image-to-video",
        kind="gif",
        path=job.outputs["image-to-video"]["gif"],
        output_sha256="0" * 64,
        signer="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        document={},
    )
    for viewer in (None, other_member):
        html = page_for(viewer, job)[1]
        assert 'id="media-withheld"' in html
        assert receipt.get_absolute_url() not in html and media_of(job) not in html
    assert f'href="{receipt.get_absolute_url()}"' in page_for(personas.member, job)[1]


@pytest.mark.django_db
def test_an_api_job_has_no_studio_page_even_after_its_key_is_deleted(client):
    key, _ = ApiKey.issue("deleted later")
    job = Job.objects.create(prompt="api", api_key=key, stages=["text-to-image"], parameters={"api": True})
    key.delete()
    job.refresh_from_db()
    assert job.api_key is None
    assert client.get(f"/jobs/{job.id}/").status_code == 404


async def first_message(job: Job, user=None) -> tuple[bool, int | str]:
    """Connect to the job's socket as `user`: (True, the first fragment) or (False, the close code)."""
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=ORIGIN)
    if user is not None:
        communicator.scope["user"] = user
    connected, code = await communicator.connect()
    if not connected:
        return False, code
    html = await communicator.receive_from(timeout=5)
    await communicator.disconnect()
    return True, html


@pytest.mark.django_db(transaction=True)
async def test_socket_for_a_hidden_entrys_job_is_closed_to_visitors_but_not_to_its_maker(personas, other_member):
    job = await database_sync_to_async(hidden_entrys_job)(personas)
    for viewer in (None, other_member):
        assert await first_message(job, viewer) == (False, 4404)
    connected, html = await first_message(job, personas.member)
    assert connected and 'id="result-gif"' in html


@pytest.mark.django_db(transaction=True)
async def test_socket_withholds_an_unapproved_entrys_gif_from_visitors(personas):
    entry = await database_sync_to_async(entry_awaiting_review)(personas)
    connected, html = await first_message(entry.job)
    assert connected and 'id="media-withheld"' in html
    assert 'id="result-gif"' not in html and media_of(entry.job) not in html


@pytest.mark.django_db(transaction=True)
async def test_socket_for_an_api_job_whose_key_was_deleted_is_closed():
    def api_job_without_key() -> Job:
        key, _ = ApiKey.issue("deleted later")
        job = Job.objects.create(prompt="api", api_key=key, stages=["text-to-image"], parameters={"api": True})
        key.delete()
        return job

    job = await database_sync_to_async(api_job_without_key)()
    assert await first_message(job) == (False, 4404)


@pytest.mark.django_db
def test_a_never_entered_gif_the_safety_checker_never_passed_keeps_its_media_from_others(personas, other_member):
    job = make_generation(personas.member).job
    for viewer in (None, other_member):
        status, html = page_for(viewer, job)
        assert status == 200
        assert "The safety checker has not passed this GIF" in html and media_of(job) not in html
    assert 'id="result-gif"' in page_for(personas.member, job)[1]
    checked = make_generation(personas.member, checked=True).job
    assert 'id="result-gif"' in page_for(None, checked)[1]
