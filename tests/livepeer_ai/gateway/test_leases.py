from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from livepeer_ai.gateway import leases, tasks, workflow
from livepeer_ai.gateway.models import Job, JobStatus
from tests.conftest import wait_for


def make_job(**fields: object) -> Job:
    job = workflow.create_gif_job("lease")
    Job.objects.filter(id=job.id).update(**fields)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_only_one_driver_can_claim_a_job():
    job = make_job()
    assert leases.claim(str(job.id))
    assert not leases.claim(str(job.id))


@pytest.mark.django_db
def test_an_expired_lease_can_be_claimed_again():
    job = make_job(status=JobStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=1))
    assert leases.claim(str(job.id))


@pytest.mark.django_db
def test_finished_jobs_cannot_be_claimed():
    job = make_job(status=JobStatus.SUCCEEDED)
    assert not leases.claim(str(job.id))


@pytest.mark.django_db
def test_run_job_leaves_a_job_alone_while_another_driver_holds_it():
    held_until = timezone.now() + timedelta(seconds=60)
    job = make_job(status=JobStatus.RUNNING, lease_until=held_until, stage_index=1, step=4)
    with mock.patch("livepeer_ai.gateway.workflow.dispatch_stage") as dispatch:
        workflow.run_job(str(job.id))
    dispatch.assert_not_called()
    job.refresh_from_db()
    assert (job.status, job.stage_index, job.step, job.lease_until) == (JobStatus.RUNNING, 1, 4, held_until)


@pytest.mark.django_db(transaction=True)
def test_lease_is_renewed_while_held_and_dropped_after(settings):
    settings.JOB_LEASE_S = 0.3
    job = make_job(status=JobStatus.RUNNING)
    assert leases.claim(str(job.id))
    first = Job.objects.get(id=job.id).lease_until
    with leases.Lease(str(job.id)):
        wait_for(lambda: Job.objects.get(id=job.id).lease_until > first, 5, "lease renewal")
    assert Job.objects.get(id=job.id).lease_until is None


@pytest.mark.django_db
def test_sweep_redrives_exactly_the_jobs_nobody_drives(settings):
    settings.JOB_PICKUP_GRACE_S = 60
    now = timezone.now()
    dead_worker = make_job(status=JobStatus.RUNNING, lease_until=now - timedelta(seconds=5))
    lost_message = make_job(created_at=now - timedelta(seconds=120))
    make_job(status=JobStatus.RUNNING, lease_until=now + timedelta(seconds=30))  # alive
    make_job()  # just queued
    make_job(status=JobStatus.SUCCEEDED, lease_until=now - timedelta(seconds=5))  # done
    make_job(status=JobStatus.CANCELED, created_at=now - timedelta(seconds=120))
    with mock.patch("livepeer_ai.gateway.tasks.drive_job.delay") as enqueue:
        assert tasks.sweep_stalled_jobs() == 2
    assert {call.args[0] for call in enqueue.call_args_list} == {str(dead_worker.id), str(lost_message.id)}


@pytest.mark.django_db
def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_running():
    job = make_job()
    with mock.patch("livepeer_ai.gateway.workflow.dispatch_stage", side_effect=OSError("disk full")):
        workflow.run_job(str(job.id))
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "internal_error")
    assert job.lease_until is None
    assert leases.stalled_job_ids() == []
