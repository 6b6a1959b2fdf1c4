from __future__ import annotations

import uuid
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from livepeer_ai.asgi import application
from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.progress import job_group
from livepeer_ai.gateway.workflow import create_gif_job


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.mark.django_db
def test_index_shows_the_prompt_form(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'name="prompt"' in response.content
    assert b"hx-ws" in response.content  # the vendored htmx ws extension, no CDN
    assert b"https://" not in response.content.split(b"<body")[0]


@pytest.mark.django_db
def test_submitting_a_prompt_creates_a_job_and_enqueues_its_driver(client):
    with mock.patch("studio.views.drive_job.delay_on_commit") as enqueue:
        response = client.post("/jobs/", {"prompt": "a dancing robot", "seed": "12"})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.id}/"
    assert job.prompt == "a dancing robot"
    assert job.parameters["seed"] == 12
    assert job.stages == ["text-to-image", "image-to-video"]
    assert job.status == JobStatus.QUEUED
    enqueue.assert_called_once_with(str(job.id))


@pytest.mark.django_db
def test_htmx_submit_redirects_the_client(client):
    with mock.patch("studio.views.drive_job.delay_on_commit"):
        response = client.post("/jobs/", {"prompt": "htmx"}, HTTP_HX_REQUEST="true")
    job = Job.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/jobs/{job.id}/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"prompt": "   "}, b"This field is required"),
        ({"prompt": "x" * 501}, b"at most 500"),
        ({"prompt": "ok", "seed": "-1"}, b"greater than or equal to 0"),
    ],
    ids=["blank", "too-long", "negative-seed"],
)
def test_bad_prompt_is_refused_with_a_message(client, form, message):
    with mock.patch("studio.views.drive_job.delay_on_commit") as enqueue:
        response = client.post("/jobs/", form)
    assert response.status_code == 400
    assert message in response.content
    assert not Job.objects.exists()
    enqueue.assert_not_called()


@pytest.mark.django_db
def test_job_page_renders_state_and_connects_its_socket(client):
    job = create_gif_job("a lighthouse")
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, stage_index=1, step=3, total_steps=12)
    response = client.get(f"/jobs/{job.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'ws-connect="/ws/jobs/{job.id}/"' in html
    assert "image-to-video" in html
    assert '<span class="step">3</span>' in html
    assert 'value="61"' in html  # (1 + 0.9 * 3/12) / 2 stages = 61.25 %


@pytest.mark.django_db
def test_failed_job_says_why(client):
    job = create_gif_job("x")
    Job.objects.filter(id=job.id).update(status=JobStatus.FAILED, error_message="Runner unreachable: refused")
    assert b"It failed: Runner unreachable: refused" in client.get(f"/jobs/{job.id}/").content


@pytest.mark.django_db
def test_unknown_job_is_404(client):
    assert client.get(f"/jobs/{uuid.uuid4()}/").status_code == 404


@database_sync_to_async
def _make_job() -> Job:
    return create_gif_job("socket test")


@database_sync_to_async
def _advance(job: Job, step: int) -> None:
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, step=step, total_steps=6)


@pytest.mark.django_db(transaction=True)
async def test_socket_sends_current_state_then_every_update():
    job = await _make_job()
    communicator = WebsocketCommunicator(
        application, f"/ws/jobs/{job.id}/", headers=[(b"origin", b"http://127.0.0.1:8000")]
    )
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_from(timeout=5)
    assert 'id="job-progress"' in first and 'hx-swap-oob="true"' in first
    assert 'data-status="queued"' in first
    await _advance(job, 4)
    await get_channel_layer().group_send(job_group(job.id), {"type": "job.updated", "job_id": str(job.id)})
    update = await communicator.receive_from(timeout=5)
    assert 'data-status="running"' in update
    assert '<span class="step">4</span>' in update
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_socket_for_unknown_job_is_closed():
    communicator = WebsocketCommunicator(
        application, f"/ws/jobs/{uuid.uuid4()}/", headers=[(b"origin", b"http://127.0.0.1:8000")]
    )
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4404


@pytest.mark.django_db(transaction=True)
async def test_socket_from_a_foreign_origin_is_refused():
    job = await _make_job()
    communicator = WebsocketCommunicator(
        application, f"/ws/jobs/{job.id}/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.django_db
def test_owner_can_cancel_a_running_job(client):
    with mock.patch("studio.views.drive_job.delay_on_commit"):
        client.post("/jobs/", {"prompt": "to cancel"})
    job = Job.objects.get()
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, step=2, total_steps=6)
    response = client.post(f"/jobs/{job.id}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.finished_at is not None
    assert b"Canceled." in client.get(f"/jobs/{job.id}/").content


@pytest.mark.django_db
def test_someone_else_cannot_cancel_the_job(client):
    job = create_gif_job("not yours", session_key="another-visitors-session")
    response = client.post(f"/jobs/{job.id}/cancel/")
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


@pytest.mark.django_db
def test_finished_job_stays_finished_when_canceled(client):
    with mock.patch("studio.views.drive_job.delay_on_commit"):
        client.post("/jobs/", {"prompt": "done already"})
    job = Job.objects.get()
    Job.objects.filter(id=job.id).update(status=JobStatus.SUCCEEDED)
    client.post(f"/jobs/{job.id}/cancel/")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_queue_position_and_eta_are_shown_while_waiting(client):
    job = create_gif_job("waiting")
    Job.objects.filter(id=job.id).update(
        status=JobStatus.RUNNING, waiting_for="text-to-image m", queue_position=3, eta_s=42.4
    )
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert '<span class="queue-position">3</span>' in html
    assert "about 42 s" in html


@pytest.mark.django_db(transaction=True)
async def test_socket_shows_the_step_each_message_was_sent_for():
    job = await _make_job()
    communicator = WebsocketCommunicator(
        application, f"/ws/jobs/{job.id}/", headers=[(b"origin", b"http://127.0.0.1:8000")]
    )
    assert (await communicator.connect())[0]
    await communicator.receive_from(timeout=5)
    await _advance(job, 5)  # the row is already at step 5 when the step-2 message arrives
    snapshot = {"status": "running", "stage_index": 0, "step": 2, "total_steps": 6}
    await get_channel_layer().group_send(
        job_group(job.id), {"type": "job.updated", "job_id": str(job.id), "snapshot": snapshot}
    )
    assert '<span class="step">2</span>' in await communicator.receive_from(timeout=5)
    await communicator.disconnect()
