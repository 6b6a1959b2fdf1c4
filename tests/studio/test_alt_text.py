"""Every studio GIF's alt text: one image-to-text job per finished GIF, its caption cleaned and kept, the fallback meanwhile."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from livepeer_ai.gateway import queue, workflow
from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.workflow import create_gif_job
from studio import alt_text, tasks
from studio.models import Entry, Generation
from tests.studio.factories import finished_outputs, make_queued_job, make_round


class ImageAlts(HTMLParser):
    """The alt attribute of each <img> on a page, by its src, as a browser reads it (entities decoded)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.by_src: dict[str, str] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "img" and found.get("src"):
            self.by_src[str(found["src"])] = str(found.get("alt"))


def gif_bytes(size: tuple[int, int], colors: tuple[str, ...] = ("red", "blue")) -> bytes:
    frames = [Image.new("RGB", size, color) for color in colors]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


@pytest.fixture
def broker() -> Any:
    """The one seam faked: Celery's broker. Records which generations were sent to `caption_gif`."""
    with mock.patch.object(tasks.caption_gif, "delay") as delay:
        yield delay


def finished_gif(member: Any, size: tuple[int, int] = (256, 256), status: str = JobStatus.SUCCEEDED) -> Generation:
    """A studio GIF job finished the way the engine finishes one: through queue.finish_jobs."""
    job = make_queued_job(member)
    job.outputs = finished_outputs(job)
    default_storage.save(job.outputs["image-to-video"]["gif"], ContentFile(gif_bytes(size)))
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, outputs=job.outputs, stage_index=1)
    queue.finish_jobs([job.id], status)
    return Generation.objects.get(job=job)


def finish_caption(caption_job: Job, status: str, text: str = "") -> None:
    if text:
        # Kept as the engine keeps a runner's answer (NUL taken out: PostgreSQL cannot hold it).
        workflow.store_api_result(caption_job, "image-to-text", {"text": text})
    Job.objects.filter(id=caption_job.id).update(status=JobStatus.RUNNING)
    queue.finish_jobs([caption_job.id], status)


@pytest.mark.django_db
def test_a_finished_gif_queues_one_caption_job_on_its_first_frame(
    personas, media, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        generation = finished_gif(personas.member, size=(1024, 768))
        queue.finish_jobs([generation.job_id], JobStatus.SUCCEEDED)  # finished twice: told once
    broker.assert_called_once_with(generation.id)

    caption_job_id = tasks.caption_gif(generation.id)
    assert tasks.caption_gif(generation.id) == ""  # a redelivered or retried task queues nothing more
    caption_job = Job.objects.get(stages=["image-to-text"])
    assert str(caption_job.id) == caption_job_id
    generation.refresh_from_db()
    assert generation.caption_job == caption_job
    # The gateway pays (no API key); the maker is on the books; the frame is BLIP's size, not the GIF's.
    assert (caption_job.api_key, caption_job.owner, caption_job.status) == (None, personas.member, JobStatus.QUEUED)
    assert caption_job.parameters["request"]["prompt"] == "a picture of"
    assert caption_job.parameters["input_size"] == [384, 288]
    with default_storage.open(caption_job.parameters["input"]) as frame, Image.open(frame) as image:
        assert image.convert("RGB").getpixel((10, 10)) == (255, 0, 0)  # the first frame, red


@pytest.mark.django_db
def test_an_upscaled_gif_is_captioned_from_its_finished_gif(personas, media, broker):
    job = create_gif_job("a robot", owner=personas.member, upscale=True)
    generation = Generation.objects.create(job=job, member=personas.member, prompt="a robot", choices={})
    video_gif, upscaled_gif = f"jobs/{job.id}/image-to-video/video.gif", f"jobs/{job.id}/upscale/video.gif"
    default_storage.save(video_gif, ContentFile(gif_bytes((64, 64), ("red", "red"))))
    default_storage.save(upscaled_gif, ContentFile(gif_bytes((256, 256), ("green", "red"))))
    outputs = {"image-to-video": {"gif": video_gif}, "upscale": {"gif": upscaled_gif}}
    Job.objects.filter(id=job.id).update(status=JobStatus.SUCCEEDED, outputs=outputs)
    caption_job = alt_text.queue_caption(generation.id)
    assert caption_job is not None
    with default_storage.open(caption_job.parameters["input"]) as frame, Image.open(frame) as image:
        assert image.size == (256, 256) and image.convert("RGB").getpixel((10, 10)) == (0, 128, 0)


@pytest.mark.django_db
def test_a_failed_or_canceled_gif_queues_no_caption(personas, media, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        failed = finished_gif(personas.member, status=JobStatus.FAILED)
    broker.assert_not_called()
    assert tasks.caption_gif(failed.id) == ""
    assert not Job.objects.filter(stages=["image-to-text"]).exists()


@pytest.mark.django_db
def test_the_caption_is_cleaned_and_kept_when_its_job_succeeds(personas, media, broker):
    generation = finished_gif(personas.member)
    caption_job = alt_text.queue_caption(generation.id)
    assert caption_job is not None
    finish_caption(
        caption_job, JobStatus.SUCCEEDED, "a picture of\x00 a <b>cat</b>\u200b\n\tdancing\x1b[31m " + "ha " * 200
    )
    generation.refresh_from_db()
    assert generation.alt_text.startswith("a picture of a <b>cat</b> dancing[31m ha ha")
    assert len(generation.alt_text) == 300 and generation.alt_text.endswith("…")
    assert generation.gif_alt == generation.alt_text


@pytest.mark.django_db
@pytest.mark.parametrize("status,text", [(JobStatus.FAILED, ""), (JobStatus.SUCCEEDED, "\x00\u200b \n")])
def test_a_failed_or_empty_caption_keeps_the_fallback(personas, media, broker, status, text):
    generation = finished_gif(personas.member)
    caption_job = alt_text.queue_caption(generation.id)
    assert caption_job is not None
    finish_caption(caption_job, status, text)
    generation.refresh_from_db()
    assert generation.alt_text == ""
    assert generation.gif_alt == "Generated GIF for: a robot in the rain"


@pytest.mark.django_db
def test_with_no_approved_captioner_the_gif_keeps_its_fallback(personas, media, broker, settings):
    settings.DEFAULT_MODELS = {**settings.DEFAULT_MODELS, "image-to-text": "nobody/unregistered-captioner"}
    generation = finished_gif(personas.member)
    assert tasks.caption_gif(generation.id) == ""
    assert not Job.objects.filter(stages=["image-to-text"]).exists()


@pytest.mark.django_db
def test_every_studio_img_of_the_gif_reads_its_caption_escaped_or_the_fallback(client, personas, media, broker):
    generation = finished_gif(personas.member)
    round = make_round()
    Generation.objects.filter(id=generation.id).update(round=round)
    entry = Entry.objects.create(round=round, job=generation.job, author=personas.member, safety="clean")
    gif = entry.gif_url
    client.force_login(personas.member)
    pages = [entry.get_absolute_url(), round.get_absolute_url(), generation.job.get_absolute_url(), "/my-gifs/"]

    for url in pages:
        assert ImageAlts(client.get(url).content.decode()).by_src[gif] == "Generated GIF for: a robot in the rain"

    caption = 'a picture of a robot "><script>alert(1)</script>'
    Generation.objects.filter(id=generation.id).update(alt_text=caption)
    for url in pages:
        page = client.get(url).content.decode()
        assert "<script>alert(1)" not in page
        assert ImageAlts(page).by_src[gif] == caption


@pytest.mark.django_db
def test_the_maker_describes_their_gif_in_their_own_words_and_every_page_reads_them(client, personas, media, broker):
    generation = finished_gif(personas.member)
    job_url = generation.job.get_absolute_url()
    client.force_login(personas.member)
    assert 'id="describe-gif"' in client.get(job_url).content.decode()

    answer = client.post(f"{job_url}describe/", {"alt_text": "  A red robot\x1b waves\u200b in the rain \n"})

    assert answer.status_code == 302 and answer["Location"].startswith(job_url)
    generation.refresh_from_db()
    assert generation.alt_text == "A red robot waves in the rain"
    gif = generation.job.outputs["image-to-video"]["gif"]
    src = next(src for src in ImageAlts(client.get(job_url).content.decode()).by_src if gif in src)
    assert ImageAlts(client.get(job_url).content.decode()).by_src[src] == "A red robot waves in the rain"
    assert ImageAlts(client.get("/my-gifs/").content.decode()).by_src[src] == "A red robot waves in the rain"


@pytest.mark.django_db
def test_a_caption_that_arrives_after_the_makers_words_leaves_them(personas, media, broker):
    generation = finished_gif(personas.member)
    caption_job = alt_text.queue_caption(generation.id)
    assert caption_job is not None
    alt_text.describe_by_maker(generation, "my robot, dancing")
    finish_caption(caption_job, JobStatus.SUCCEEDED, "a picture of a robot")
    generation.refresh_from_db()
    assert generation.alt_text == "my robot, dancing"
    # Emptied by its maker, the GIF reads the fallback again.
    alt_text.describe_by_maker(generation, " \n")
    assert generation.gif_alt == "Generated GIF for: a robot in the rain"


@pytest.mark.django_db
def test_only_the_maker_may_describe_a_gif_and_a_long_description_is_refused(client, personas, media, broker):
    generation = finished_gif(personas.member)
    job_url = generation.job.get_absolute_url()
    assert client.post(f"{job_url}describe/", {"alt_text": "a visitor's words"}).status_code == 302  # to sign in
    client.force_login(personas.operator)
    assert 'id="describe-gif"' not in client.get(job_url).content.decode()
    assert client.post(f"{job_url}describe/", {"alt_text": "someone else's words"}).status_code == 404
    client.force_login(personas.member)
    refused = client.post(f"{job_url}describe/", {"alt_text": "x" * 301})
    assert refused.status_code == 400 and "at most 300 characters" in refused.content.decode()
    generation.refresh_from_db()
    assert generation.alt_text == ""
