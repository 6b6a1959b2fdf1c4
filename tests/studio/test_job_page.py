"""The job page: live progress over the WebSocket, queue and ETA, previews, result details, cancel, retry."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from livepeer_ai.asgi import application
from livepeer_ai.gateway.models import (
    AttemptOutcome,
    Job,
    JobStatus,
    Orchestrator,
    QueuedStage,
    QueueState,
    Receipt,
    StageAttempt,
)
from livepeer_ai.gateway.progress import job_group, publish_queue_moved
from studio.models import Generation
from tests.studio.factories import make_generation, make_queued_job, make_round

ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


@pytest.mark.django_db
def test_job_page_renders_state_and_connects_its_socket(client, personas):
    job = make_queued_job(personas.member, "a lighthouse")
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, stage_index=1, step=3, total_steps=12)
    QueuedStage.objects.filter(job=job).update(state=QueueState.RUNNING, stage_index=1)
    response = client.get(f"/jobs/{job.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'ws-connect="/ws/jobs/{job.id}/"' in html
    assert "<strong>Video</strong>" in html
    assert '<span class="step">3</span>' in html
    assert 'value="61.2"' in html  # (1 + 0.9 * 3/12) / 2 stages = 61.25 %


@pytest.mark.django_db
def test_htmx_reload_gets_only_the_progress_fragment(client, personas):
    job = make_queued_job(personas.member, "fragment")
    html = client.get(f"/jobs/{job.id}/", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="job-progress"')
    assert "<html" not in html


@pytest.mark.django_db
def test_failure_is_said_in_plain_words_with_the_detail_secondary(client, personas):
    job = make_queued_job(personas.member, "x")
    Job.objects.filter(id=job.id).update(
        status=JobStatus.FAILED, error_code="runner_503", error_message="No orchestrator could take text-to-image m"
    )
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert 'It failed. <span class="failure">Every orchestrator that runs this stage stayed busy' in html
    assert "<summary>Technical detail</summary>" in html
    assert "<code>runner_503</code>: No orchestrator could take text-to-image m" in html


@pytest.mark.django_db
def test_unknown_failure_code_still_gets_a_sentence(client, personas):
    job = make_queued_job(personas.member, "x")
    Job.objects.filter(id=job.id).update(status=JobStatus.FAILED, error_code="runner_418", error_message="teapot")
    assert b"The job could not be finished." in client.get(f"/jobs/{job.id}/").content


@pytest.mark.django_db
def test_unknown_job_is_404(client):
    assert client.get(f"/jobs/{uuid.uuid4()}/").status_code == 404


@pytest.mark.django_db
def test_queue_position_and_eta_are_shown_while_waiting(client, personas):
    ahead = [make_queued_job(personas.member, f"ahead {i}") for i in range(2)]
    job = make_queued_job(personas.member, "waiting")
    model_id = settings.DEFAULT_MODELS["text-to-image"]
    offered = {"pipeline": "text-to-image", "model_id": model_id, "capacity": 3, "in_use": 0, "warm": True}
    Orchestrator.objects.create(
        service_uri="http://node", info={"capabilities": [offered]}, info_fetched_at=timezone.now()
    )
    StageAttempt.objects.create(
        job=ahead[0],
        stage="text-to-image",
        pipeline="text-to-image",
        model_id=model_id,
        outcome="succeeded",
        took_s=42.4,
    )
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert '<span class="queue-position">3</span>' in html
    assert "about 42 s" in html


@pytest.mark.django_db
def test_first_frame_preview_shows_while_the_video_stage_runs(client, personas):
    job = make_queued_job(personas.member, "preview")
    job.outputs = {"text-to-image": {"image": f"jobs/{job.id}/text-to-image/image.png", "seed": 4}}
    job.status, job.stage_index, job.step, job.total_steps = JobStatus.RUNNING, 1, 2, 12
    job.save()
    client.force_login(personas.member)  # not checked yet: only its maker sees the frame
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert f'src="/media/jobs/{job.id}/text-to-image/image.png"' in html
    assert 'data-stage="text-to-image"' in html and "stage-item done" in html
    assert "stage-item running" in html


@pytest.mark.django_db
def test_result_names_prompt_seed_model_orchestrator_and_receipts(client, personas):
    generation = make_generation(personas.member, make_round(), prompt="a comet", checked=True)
    job = generation.job
    job.parameters["negative_prompt"] = "blurry"
    job.save()
    node = Orchestrator.objects.create(
        service_uri="http://node-a.example:8935", address="0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    )
    for stage, model in (("text-to-image", "livepeer-ai/tiny-sdxl-turbo"), ("image-to-video", "livepeer-ai/tiny-svd")):
        StageAttempt.objects.create(
            job=job, stage=stage, orchestrator=node, pipeline=stage, model_id=model, outcome=AttemptOutcome.SUCCEEDED
        )
        StageAttempt.objects.create(
            job=job, stage=stage, pipeline=stage, model_id=model, outcome=AttemptOutcome.FAILED, message="elsewhere"
        )
    receipt = Receipt.objects.create(
        job=job,
        stage="image-to-video",
        kind="gif",
        path=job.outputs["image-to-video"]["gif"],
        output_sha256="0" * 64,
        signer=node.address,
        document={},
    )
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert f'src="/media/jobs/{job.id}/image-to-video/video.gif"' in html
    assert f'href="/media/jobs/{job.id}/image-to-video/video.mp4"' in html
    assert "a comet" in html and "blurry" in html
    assert '<dd id="result-seed">7</dd>' in html
    assert "livepeer-ai/tiny-sdxl-turbo" in html and "livepeer-ai/tiny-svd" in html
    assert "http://node-a.example:8935" in html and 'title="0x70997970C51812dc3A010C7d01b50e0d17dc79C8"' in html
    assert "elsewhere" not in html  # only the attempt that made the output is named
    assert f'href="{receipt.get_absolute_url()}"' in html


@pytest.mark.django_db
def test_output_flagged_nsfw_is_withheld_from_others_but_shown_to_its_maker(client, personas):
    job = make_generation(personas.member, checked=True, nsfw=True).job
    assert b'id="media-withheld"' in client.get(f"/jobs/{job.id}/").content
    client.force_login(personas.member)
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="media-withheld"' not in html and 'id="result-gif"' in html


@pytest.mark.django_db
def test_api_jobs_have_no_studio_page(client):
    from livepeer_ai.gateway.models import ApiKey

    key, _ = ApiKey.issue("test")
    job = Job.objects.create(prompt="api", api_key=key, stages=["text-to-image"], parameters={"api": True})
    assert client.get(f"/jobs/{job.id}/").status_code == 404


@database_sync_to_async
def _make_job(owner) -> Job:
    return make_queued_job(owner, "socket test")


@database_sync_to_async
def _advance(job: Job, step: int) -> None:
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, step=step, total_steps=6)
    # Its stage holds a slot now: out of the queue.
    QueuedStage.objects.filter(job=job).update(state=QueueState.RUNNING)


@pytest.mark.django_db(transaction=True)
async def test_socket_sends_current_state_then_every_update(personas):
    job = await _make_job(personas.member)
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=ORIGIN)
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
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{uuid.uuid4()}/", headers=ORIGIN)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4404


@pytest.mark.django_db(transaction=True)
async def test_socket_from_a_foreign_origin_is_refused(personas):
    job = await _make_job(personas.member)
    communicator = WebsocketCommunicator(
        application, f"/ws/jobs/{job.id}/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.django_db(transaction=True)
async def test_socket_shows_the_step_each_message_was_sent_for(personas):
    job = await _make_job(personas.member)
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=ORIGIN)
    assert (await communicator.connect())[0]
    await communicator.receive_from(timeout=5)
    await _advance(job, 5)  # the row is already at step 5 when the step-2 message arrives
    snapshot = {"status": "running", "stage_index": 0, "step": 2, "total_steps": 6}
    await get_channel_layer().group_send(
        job_group(job.id), {"type": "job.updated", "job_id": str(job.id), "snapshot": snapshot}
    )
    assert '<span class="step">2</span>' in await communicator.receive_from(timeout=5)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_socket_shows_the_latest_preview_to_its_maker_while_its_stage_runs(personas):
    job = await _make_job(personas.member)
    owner = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=ORIGIN)
    owner.scope["user"] = personas.member
    visitor = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=ORIGIN)
    for communicator in (owner, visitor):
        assert (await communicator.connect())[0]
        assert "job-live-preview" not in await communicator.receive_from(timeout=5)
    await _advance(job, 3)
    preview = "data:image/jpeg;base64,/9j/AAAA"

    async def send(step: int, stage_index: int = 0, **extra: str) -> str:
        snapshot = {"status": "running", "stage_index": stage_index, "step": step, "total_steps": 6, **extra}
        await get_channel_layer().group_send(
            job_group(job.id), {"type": "job.updated", "job_id": str(job.id), "snapshot": snapshot}
        )
        # Not yet seen by the safety checker: only its maker (and moderators) see it form.
        assert "job-live-preview" not in await visitor.receive_from(timeout=5)
        return str(await owner.receive_from(timeout=5))

    shown = await send(2, preview=preview)
    assert f'src="{preview}"' in shown and 'alt="Preview of the first frame as it forms"' in shown
    # The steps in between carry none: the latest stays on the page.
    assert f'src="{preview}"' in await send(3)
    # Not once the row has moved to another stage, nor once the job is done.
    await database_sync_to_async(Job.objects.filter(id=job.id).update)(stage_index=1)
    assert "job-live-preview" not in await send(1, stage_index=1)
    await database_sync_to_async(Job.objects.filter(id=job.id).update)(status=JobStatus.SUCCEEDED)
    assert "job-live-preview" not in await send(4, stage_index=1)
    for communicator in (owner, visitor):
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_socket_gives_the_owner_their_cancel_button_and_others_none(personas):
    job = await _make_job(owner=personas.member)
    seen = {}
    for name, user in (("owner", personas.member), ("visitor", None)):
        communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=ORIGIN)
        if user is not None:
            communicator.scope["user"] = user
        assert (await communicator.connect())[0]
        seen[name] = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
    assert 'id="cancel-job"' in seen["owner"]
    assert 'id="cancel-job"' not in seen["visitor"]


@pytest.mark.django_db
def test_owner_can_cancel_a_running_job(client, personas):
    client.force_login(personas.member)
    client.post(
        "/jobs/",
        {
            "prompt": "to cancel",
            "text_to_image_steps": 6,
            "image_to_video_steps": 12,
            "motion_bucket_id": 127,
            "fps": 6,
        },
    )
    job = Job.objects.get()
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, step=2, total_steps=6)
    response = client.post(f"/jobs/{job.id}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.finished_at is not None
    assert b"Canceled." in client.get(f"/jobs/{job.id}/").content


@pytest.mark.django_db
def test_finished_job_stays_finished_when_canceled(client, personas):
    job = make_generation(personas.member).job
    client.force_login(personas.member)
    client.post(f"/jobs/{job.id}/cancel/")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_retry_makes_a_new_job_with_the_same_settings(client, personas):
    round = make_round()
    original = make_generation(
        personas.member,
        round,
        status=JobStatus.FAILED,
        prompt="again",
        style="anime",
        seed=99,
        text_to_image_steps=4,
        image_to_video_steps=5,
        motion_bucket_id=80,
        fps=8,
        upscale=True,
        interpolate=False,
    )
    client.force_login(personas.member)
    response = client.post(f"/jobs/{original.job_id}/retry/")
    retry = Generation.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302 and response["Location"] == retry.job.get_absolute_url()
    assert QueuedStage.objects.filter(job_id=retry.job_id, stage_index=0).exists()
    assert retry.retry_of == original and retry.round == round
    assert retry.job.stages == ["text-to-image", "image-to-video", "upscale"]
    assert retry.job.prompt.startswith("again, anime style")
    params = retry.job.parameters
    assert (params["seed"], params["text_to_image_steps"], params["image_to_video_steps"]) == (99, 4, 5)
    assert (params["motion_bucket_id"], params["fps"], params["style"]) == (80, 8, "anime")


@pytest.mark.django_db
def test_a_succeeded_job_is_not_retried(client, personas):
    job = make_generation(personas.member).job
    client.force_login(personas.member)
    response = client.post(f"/jobs/{job.id}/retry/")
    assert response.status_code == 409
    assert b"Only a failed or canceled job can be retried." in response.content
    assert Generation.objects.count() == 1


@pytest.mark.django_db
def test_retry_button_shows_for_the_owner_of_a_failed_job_only(personas):
    job = make_generation(personas.member, status=JobStatus.FAILED).job
    owner, other = Client(), Client()
    owner.force_login(personas.member)
    other.force_login(personas.admin)
    assert b'id="retry-job"' in owner.get(f"/jobs/{job.id}/").content
    assert b'id="retry-job"' not in other.get(f"/jobs/{job.id}/").content


@pytest.mark.django_db(transaction=True)
async def test_a_waiting_jobs_socket_shows_its_place_move_when_the_queue_moves(personas):
    first = await _make_job(personas.member)
    second = await _make_job(personas.member)
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{second.id}/", headers=ORIGIN)
    assert (await communicator.connect())[0]
    assert '<span class="queue-position">2</span>' in await communicator.receive_from(timeout=5)
    # The job ahead leaves the queue (it got a slot); the engine says the queue moved.
    await database_sync_to_async(QueuedStage.objects.filter(job=first).update)(state=QueueState.RUNNING)
    capability = await database_sync_to_async(lambda: QueuedStage.objects.get(job=second).capability)()
    await publish_queue_moved(capability)
    assert '<span class="queue-position">1</span>' in await communicator.receive_from(timeout=5)
    await communicator.disconnect()


@pytest.mark.django_db
def test_a_job_that_finishes_while_watched_offers_remix_in_the_pushed_fragment(client, personas):
    """The fragment the socket (and an htmx reload) sends carries the finished GIF's actions."""
    generation = make_generation(personas.member, make_round(), prompt="a comet", checked=True)
    client.force_login(personas.member)
    fragment = client.get(f"/jobs/{generation.job_id}/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="job-progress"')
    assert f"?remix={generation.job_id}" in fragment and f"?seed={generation.job_id}" in fragment


@pytest.mark.django_db
def test_an_upscaled_gif_says_it_kept_its_size_and_what_it_was_made_at(client, personas):
    upscaled = make_generation(personas.member, prompt="sharper")
    Job.objects.filter(id=upscaled.job_id).update(
        stages=["text-to-image", "image-to-video", "upscale"], parameters={**upscaled.job.parameters, "width": 384}
    )
    plain = make_generation(personas.member, prompt="plain")
    client.force_login(personas.member)
    settings_line = client.get(f"/jobs/{upscaled.job_id}/").content.decode().split('id="result-settings">', 1)[1]
    assert settings_line.startswith("384×256 (made at 96×64, then every frame upscaled ×4),")
    assert "upscaled ×4" not in client.get(f"/jobs/{plain.job_id}/").content.decode().split('id="result-settings">')[1]
    form = client.get("/").content.decode()
    assert "The GIF keeps the size you chose" in form


@pytest.mark.django_db(transaction=True)
async def test_a_cancel_landing_as_the_socket_opens_is_still_shown(personas, monkeypatch):
    """The cancel commits just after the socket read the row: its update must follow the first fragment."""
    from studio import consumers

    job = await _make_job(personas.member)
    read_row = consumers.render_progress

    async def read_then_cancel(job_id: str, user, *rest):
        rendered = await read_row(job_id, user, *rest)
        if not rest:  # the read on connect
            await database_sync_to_async(lambda: Job.objects.get(id=job_id).cancel())()
        return rendered

    monkeypatch.setattr(consumers, "render_progress", read_then_cancel)
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=ORIGIN)
    assert (await communicator.connect())[0]
    assert 'data-status="queued"' in await communicator.receive_from(timeout=5)
    assert 'data-status="canceled"' in await communicator.receive_from(timeout=5)
    await communicator.disconnect()
