"""The job page's bar and time left follow how long jobs of the same shape took, stage by stage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, StageAttempt
from livepeer_ai.gateway.queue import jobs_finished
from livepeer_ai.gateway.workflow import create_gif_job
from studio.progress import job_progress, measured_phases
from tests.studio.factories import make_queued_job

pytestmark = pytest.mark.django_db


def finished_like(
    job: Job, first_frame_s: float, video_s: float, finish_s: float, models: dict[str, str] | None = None, **parameters
) -> Job:
    """A succeeded job shaped like `job`, whose attempts took these times, finished `finish_s` after the last."""
    done = create_gif_job("done before", parameters=parameters, models=models)
    started = timezone.now() - timedelta(minutes=5)
    for stage, took in (("text-to-image", first_frame_s), ("image-to-video", video_s)):
        StageAttempt.objects.create(
            job=done,
            stage=stage,
            pipeline=stage,
            model_id="m",
            outcome=AttemptOutcome.SUCCEEDED,
            started_at=started,
            took_s=took,
        )
        started += timedelta(seconds=took)
    Job.objects.filter(id=done.id).update(status=JobStatus.SUCCEEDED, finished_at=started + timedelta(seconds=finish_s))
    return done


def at(job: Job, stage_index: int, step: int, total: int) -> Job:
    Job.objects.filter(id=job.id).update(
        status=JobStatus.RUNNING, stage_index=stage_index, step=step, total_steps=total
    )
    job.refresh_from_db()
    return job


def test_with_nothing_measured_every_stage_weighs_the_same_and_no_time_left_is_claimed(personas):
    job = at(make_queued_job(personas.member), 1, 0, 12)
    progress = job_progress(job)
    assert (progress.percent, progress.stage_label, progress.remaining_s) == (50, "Video", None)


def test_stages_weigh_what_they_took_and_the_finish_holds_the_end_of_the_bar(personas):
    job = make_queued_job(personas.member)
    for first_frame_s, video_s, finish_s in ((2, 27, 5), (3, 28, 6), (4, 40, 9)):
        finished_like(job, first_frame_s, video_s, finish_s)
    assert measured_phases(job) == [3, 28, 6]
    # The first frame's steps are done: 3 s of 37 s, not half of the bar.
    first = job_progress(at(job, 0, 4, 4))
    assert (first.percent, first.stage_label, first.remaining_s) == (8.1, "First frame", 34)
    halfway = job_progress(at(job, 1, 6, 12))
    assert (halfway.percent, halfway.remaining_s) == (45.9, 20)  # 17 of 37 s
    # The video's last step is in: what is left is making the GIF and MP4, measured.
    saving = job_progress(at(job, 1, 12, 12))
    assert (saving.percent, saving.remaining_s) == (83.7, 6)  # 31 of 37 s


def test_only_jobs_of_the_same_size_and_steps_count(personas):
    job = make_queued_job(personas.member)
    finished_like(job, 3, 28, 6, width=512, height=512)
    finished_like(job, 3, 28, 6, text_to_image_steps=job.parameters["text_to_image_steps"] + 1)
    assert measured_phases(job) is None


def test_only_jobs_whose_stages_ran_the_same_models_count(personas):
    job = make_queued_job(personas.member)
    finished_like(job, 3, 28, 6, models={"text-to-image": "livepeer-ai/tiny-sd15"})
    assert measured_phases(job) is None
    # Naming the default model is the same shape as naming none (GIFs made before models could be picked).
    finished_like(job, 3, 28, 6, models={"text-to-image": "livepeer-ai/tiny-sdxl-turbo"})
    assert measured_phases(job) == [3, 28, 6]


def test_the_page_names_the_stage_and_says_the_time_left(client, personas):
    job = make_queued_job(personas.member)
    finished_like(job, 3, 28, 6)
    at(job, 1, 6, 12)
    html = client.get(f"/jobs/{job.id}/").content.decode()
    assert "<strong>Video</strong>" in html
    assert 'value="45.9"' in html and 'about <span class="remaining">20</span> s left' in html


def test_the_durations_are_measured_once_for_every_render_of_a_while(personas, django_assert_num_queries):
    job = make_queued_job(personas.member)
    finished_like(job, 3, 28, 6)
    running = at(job, 1, 6, 12)
    first = job_progress(running)
    # Pushed to every watcher on every step: the measured durations come from the cache, no query.
    with django_assert_num_queries(0):
        assert job_progress(running) == first


def test_a_job_that_succeeds_weighs_the_next_ones_at_once(personas, django_capture_on_commit_callbacks):
    job = at(make_queued_job(personas.member), 1, 0, 12)
    assert job_progress(job).percent == 50  # nothing measured yet (and that is kept a while)
    with django_capture_on_commit_callbacks(execute=True):
        done = finished_like(job, 3, 28, 6)
        jobs_finished.send(sender=Job, job_ids=[done.id], status=JobStatus.SUCCEEDED)
    assert job_progress(job).percent == 8.1  # 3 s of 37 s, not half of the bar
