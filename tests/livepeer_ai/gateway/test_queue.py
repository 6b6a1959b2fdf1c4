"""The queue's rules, on the real dispatch code and database: order, independence, priority, no double dispatch.

Nodes here are rows with a stored /info (what the engine's refresh writes), so
dispatch decides exactly as in production, with no stream behind it.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from livepeer_ai.gateway import queue
from livepeer_ai.gateway.models import (
    ApiKey,
    AttemptOutcome,
    EngineWorker,
    Job,
    JobStatus,
    Orchestrator,
    QueuedStage,
    QueueState,
    StageAttempt,
)
from livepeer_ai.gateway.workflow import create_api_job

T2I = ("text-to-image", "livepeer-ai/tiny-sdxl-turbo")
I2V = ("image-to-video", "livepeer-ai/tiny-svd-xt")


def node(uri: str, offers: dict[tuple[str, str], int], in_use: int = 0) -> Orchestrator:
    """A node as the engine's last /info refresh left it: `offers` maps capability → slots."""
    capabilities = [
        {
            "pipeline": p,
            "model_id": m,
            "warm": True,
            "capacity": slots,
            "in_use": in_use,
            "price_per_unit": 1,
            "pixels_per_unit": 1,
        }
        for (p, m), slots in offers.items()
    ]
    return Orchestrator.objects.create(
        service_uri=uri,
        address="0x" + "1" * 40,
        info={"capabilities": capabilities},
        info_fetched_at=timezone.now(),
        reachable=True,
    )


def network_seen() -> None:
    EngineWorker.objects.create(name="refresher", refreshed_at=timezone.now())


def submit(capability: tuple[str, str] = T2I, key: ApiKey | None = None) -> Job:
    pipeline, model_id = capability
    return create_api_job(pipeline, {"prompt": "queued", "model_id": model_id}, None, key)


def dispatched(capability: tuple[str, str] = T2I, worker: str = "w1") -> list[str]:
    return [a.job_id for a in queue.dispatch(*capability, worker)]


def end_stage(job: Job) -> None:
    """The stage on a node ended: its row leaves the ledger, the slot is free."""
    QueuedStage.objects.filter(job=job).delete()


@pytest.fixture
def network(approved_models: Any) -> None:
    network_seen()


@pytest.mark.django_db
def test_every_job_is_queued_when_it_is_accepted(network):
    node("http://a", {T2I: 1})
    jobs = [submit() for _ in range(5)]
    assert [QueuedStage.objects.get(job=job).state for job in jobs] == [QueueState.WAITING] * 5
    assert [job.queue_position for job in jobs] == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_strict_first_come_first_served_within_a_capability(network):
    node("http://a", {T2I: 2})
    jobs = [submit() for _ in range(6)]
    first = dispatched()
    assert first == [str(jobs[0].id), str(jobs[1].id)]
    # Nothing more while both slots are ours.
    assert dispatched() == []
    end_stage(jobs[1])
    assert dispatched() == [str(jobs[2].id)]
    end_stage(jobs[0])
    end_stage(jobs[2])
    assert dispatched() == [str(jobs[3].id), str(jobs[4].id)]
    assert Job.objects.get(id=jobs[5].id).queue_position == 1


@pytest.mark.django_db
def test_a_waiting_video_job_does_not_delay_an_image_job_with_a_free_slot(network):
    node("http://a", {T2I: 1, I2V: 1})
    video_jobs = [submit(I2V) for _ in range(3)]
    assert dispatched(I2V) == [str(video_jobs[0].id)]
    image_job = submit(T2I)
    assert dispatched(T2I) == [str(image_job.id)]
    assert Job.objects.get(id=video_jobs[2].id).queue_position == 2


@pytest.mark.django_db
def test_higher_priority_keys_go_first_and_fifo_within_a_priority(network):
    node("http://a", {T2I: 1})
    low, high = ApiKey.issue("low")[0], ApiKey.issue("high")[0]
    ApiKey.objects.filter(id=high.id).update(priority=5)
    high.refresh_from_db()
    early_low = submit(key=low)
    late_high = [submit(key=high), submit(key=high)]
    assert Job.objects.get(id=early_low.id).queue_position == 3
    order = []
    for _ in range(3):
        order += dispatched()
        QueuedStage.objects.filter(state=QueueState.RUNNING).delete()
    assert order == [str(late_high[0].id), str(late_high[1].id), str(early_low.id)]


@pytest.mark.django_db
def test_a_slot_taken_elsewhere_is_not_given_out(network):
    busy = node("http://a", {T2I: 2}, in_use=2)
    # What the engine's refresh writes: all of the node's in_use is someone else's.
    from livepeer_ai.gateway import slots

    slots.reconcile(busy.info, {})
    busy.save()
    submit()
    assert dispatched() == []


@pytest.mark.django_db
def test_suspended_and_failed_nodes_are_skipped_for_that_stage(network):
    node("http://a", {T2I: 1})
    node("http://b", {T2I: 1})
    job = submit()
    QueuedStage.objects.filter(job=job).update(excluded=["http://a"])
    (assignment,) = queue.dispatch(*T2I, "w1")
    assert assignment.service_uri == "http://b"


@pytest.mark.django_db
def test_a_capability_nobody_sells_fails_at_once_with_its_reason(network, settings):
    settings.FALLBACK_PROVIDER_URL = ""
    settings.QUEUE_WAIT_FOR_NODES_S = 0
    node("http://a", {T2I: 1})
    job = create_api_job("image-to-image", {"prompt": "x", "model_id": T2I[1]}, None, None)
    assert queue.dispatch("image-to-image", T2I[1], "w1") == []
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "no_orchestrator"
    assert job.error_message == f"No orchestrator in the network offers image-to-image {T2I[1]}."
    assert queue.unsold("image-to-image", T2I[1]) == job.error_message
    assert queue.unsold(*T2I) == ""


@pytest.mark.django_db
def test_a_fallback_provider_takes_what_nobody_sells(network, settings):
    settings.FALLBACK_PROVIDER_URL = "http://fallback.example"
    job = create_api_job("image-to-image", {"prompt": "x", "model_id": T2I[1]}, None, None)
    assert queue.unsold("image-to-image", T2I[1]) == ""
    (assignment,) = queue.dispatch("image-to-image", T2I[1], "w1")
    assert (assignment.job_id, assignment.orchestrator_id, assignment.service_uri) == (
        str(job.id),
        None,
        "http://fallback.example",
    )


@pytest.mark.django_db
def test_the_queue_position_needs_no_worker_and_survives_a_restart(network):
    node("http://a", {T2I: 1})
    jobs = [submit() for _ in range(3)]
    dispatched()
    # The running job has no position; the others count from the head.
    assert [Job.objects.get(id=j.id).queue_position for j in jobs] == [None, 1, 2]


@pytest.mark.django_db
def test_a_stopped_workers_stages_go_back_to_the_head_of_the_queue(network):
    node("http://a", {T2I: 1})
    jobs = [submit() for _ in range(2)]
    EngineWorker.objects.create(name="dead", heartbeat_at=timezone.now() - timezone.timedelta(seconds=60))
    (assignment,) = queue.dispatch(*T2I, "dead")
    assert queue.reclaim_lost() == [" ".join(T2I)]
    attempt = StageAttempt.objects.get(id=assignment.attempt_id)
    assert attempt.outcome == AttemptOutcome.LOST
    # Back first in line, ahead of the job that came after it.
    assert dispatched(worker="alive") == [str(jobs[0].id)]


@pytest.mark.django_db
def test_canceling_a_waiting_job_takes_it_out_of_the_queue(network):
    node("http://a", {T2I: 1})
    jobs = [submit() for _ in range(3)]
    jobs[0].cancel()
    assert not QueuedStage.objects.filter(job=jobs[0]).exists()
    assert Job.objects.get(id=jobs[2].id).queue_position == 2
    assert dispatched() == [str(jobs[1].id)]


@pytest.mark.django_db(transaction=True)
def test_two_workers_dispatching_at_once_never_fill_one_slot_twice(approved_models):
    network_seen()
    node("http://a", {T2I: 3})
    node("http://b", {T2I: 2})
    jobs = [submit() for _ in range(40)]
    got: dict[str, list[str]] = {}
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        start.wait()
        try:
            taken: list[str] = []
            for _ in range(20):
                taken += [a.job_id for a in queue.dispatch(*T2I, name)]
            got[name] = taken
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=[f"w{i}"]) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [job_id for taken in got.values() for job_id in taken]
    assert len(got) == 4
    # Five slots: five stages out, each once, the first five in order.
    assert sorted(everything) == sorted(str(j.id) for j in jobs[:5])
    assert len(set(everything)) == len(everything)
    assert StageAttempt.objects.count() == 5


@pytest.mark.django_db
def test_a_row_is_taken_once_even_when_two_paths_reach_it(network):
    node("http://a", {T2I: 2})
    job = submit()
    entry = QueuedStage.objects.get(job=job)
    now = timezone.now()
    assert queue.assign(entry, None, "w1", now) is not None
    assert queue.assign(entry, None, "w2", now) is None
    assert StageAttempt.objects.filter(job=job).count() == 1


@pytest.mark.django_db
def test_a_live_engine_hands_back_rows_it_lost_track_of(network):
    node("http://a", {T2I: 1})
    job = submit()
    (assignment,) = queue.dispatch(*T2I, "w1")
    StageAttempt.objects.filter(id=assignment.attempt_id).update(
        started_at=timezone.now() - timezone.timedelta(seconds=60)
    )
    # Still running here: left alone.
    assert queue.release_orphans("w1", {assignment.entry_id}, timezone.now()) == []
    assert queue.release_orphans("w1", set(), timezone.now()) == [" ".join(T2I)]
    assert StageAttempt.objects.get(id=assignment.attempt_id).outcome == AttemptOutcome.LOST
    assert Job.objects.get(id=job.id).queue_position == 1


@pytest.mark.django_db
def test_a_result_arriving_after_a_cancel_leaves_no_row_behind(network, settings, tmp_path):
    from livepeer_ai.gateway import dispatch

    settings.MEDIA_ROOT = tmp_path
    node("http://a", {T2I: 1})
    job = create_gif_job_for_queue()
    (assignment,) = queue.dispatch(*T2I, "w1")
    job.cancel()
    # The running row stays until its engine hears of it; the result then arrives.
    dispatch.advance(Job.objects.get(id=job.id), QueuedStage.objects.get(job=job), more_pieces=False)
    assert not QueuedStage.objects.filter(job=job).exists()
    assert Job.objects.get(id=job.id).status == JobStatus.CANCELED


def create_gif_job_for_queue() -> Job:
    from livepeer_ai.gateway.workflow import create_gif_job

    return create_gif_job("canceled while its result arrives")


@pytest.mark.django_db(transaction=True)
def test_dispatching_a_capability_waits_for_another_workers_dispatch_of_it(approved_models):
    """The capability's lock row serialises dispatch (on SQLite the whole write lock does it too)."""
    from django.db import transaction

    from livepeer_ai.gateway.models import QueueLock

    network_seen()
    node("http://a", {T2I: 1})
    submit()
    holding, done = threading.Event(), threading.Event()
    release = threading.Event()
    got: list[list[str]] = []

    def first_worker() -> None:
        try:
            with transaction.atomic():
                QueueLock.objects.filter(capability=" ".join(T2I)).update(dispatched_at=timezone.now())
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def second_worker() -> None:
        try:
            got.append(dispatched(worker="w2"))
            done.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=first_worker), threading.Thread(target=second_worker)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    # While the other worker holds the capability, this one cannot dispatch it.
    assert not done.wait(1.0)
    release.set()
    assert done.wait(20)
    for thread in threads:
        thread.join(timeout=20)
    assert len(got) == 1 and len(got[0]) == 1


@pytest.mark.django_db
def test_a_node_the_engines_discovery_no_longer_lists_gets_no_work(network):
    node("http://dropped", {T2I: 4})
    node("http://listed", {T2I: 1})
    jobs = [submit() for _ in range(3)]
    placed = queue.dispatch(*T2I, "w1", known={"http://listed"})
    assert [(a.job_id, a.service_uri) for a in placed] == [(str(jobs[0].id), "http://listed")]


@pytest.mark.django_db
def test_one_keys_backlog_shares_the_free_slots_with_a_later_keys_job(network):
    node("http://a", {T2I: 2})
    flood, other = ApiKey.issue("flood")[0], ApiKey.issue("other")[0]
    backlog = [submit(key=flood) for _ in range(10)]
    late = submit(key=other)
    assert dispatched() == [str(backlog[0].id), str(late.id)]


@pytest.mark.django_db
def test_a_slot_that_frees_goes_to_the_key_holding_fewer_not_to_the_backlog(network):
    node("http://a", {T2I: 2})
    flood, other = ApiKey.issue("flood")[0], ApiKey.issue("other")[0]
    backlog = [submit(key=flood) for _ in range(10)]
    assert dispatched() == [str(backlog[0].id), str(backlog[1].id)]
    late = submit(key=other)
    end_stage(backlog[0])
    assert dispatched() == [str(late.id)]
    # Then turns again: the backlog's next job, and it waited for one of its own only.
    end_stage(late)
    assert dispatched() == [str(backlog[2].id)]


@pytest.mark.django_db
def test_a_key_at_its_running_cap_waits_while_slots_stay_free_for_others(network, settings):
    settings.API_KEY_MAX_RUNNING = 1
    node("http://a", {T2I: 3})
    flood, other = ApiKey.issue("flood")[0], ApiKey.issue("other")[0]
    backlog = [submit(key=flood) for _ in range(4)]
    assert dispatched() == [str(backlog[0].id)]
    assert QueuedStage.objects.get(job=backlog[1]).state == QueueState.WAITING
    late, studio = submit(key=other), submit()
    assert dispatched() == [str(late.id), str(studio.id)]


@pytest.mark.django_db
def test_fair_turns_cost_a_query_per_waiting_key_however_deep_the_backlog(network, django_assert_num_queries):
    from livepeer_ai.gateway import fairness

    flood, other = ApiKey.issue("flood")[0], ApiKey.issue("other")[0]
    for depth in (5, 40):
        for _ in range(depth):
            submit(key=flood)
        submit(key=other)
        waiting = QueuedStage.objects.filter(state=QueueState.WAITING, pipeline=T2I[0], model_id=T2I[1])
        # The waiting keys, what each runs, then each key's head read from the index (a LIMIT, never a scan).
        with django_assert_num_queries(4) as captured:
            head = fairness.fair_head(waiting, *T2I, 4)
        assert all("LIMIT 4" in query["sql"] for query in captured.captured_queries[2:])
        assert [row.api_key_id for row in head][:2] in ([flood.id, other.id], [other.id, flood.id])
        QueuedStage.objects.all().delete()


@pytest.mark.django_db
def test_a_keys_urgent_row_behind_its_backlog_still_goes_first(network):
    from livepeer_ai.gateway import fairness

    flood, other = ApiKey.issue("flood")[0], ApiKey.issue("other")[0]
    for _ in range(30):
        submit(key=flood)
    urgent = submit(key=flood)
    QueuedStage.objects.filter(job=urgent).update(priority=10)
    later = submit(key=other)
    QueuedStage.objects.filter(job=later).update(priority=5)
    waiting = QueuedStage.objects.filter(state=QueueState.WAITING, pipeline=T2I[0], model_id=T2I[1])
    head = fairness.fair_head(waiting, *T2I, 3)
    assert [row.job_id for row in head[:2]] == [urgent.id, later.id]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(4))
def test_every_waiting_jobs_position_is_its_place_in_the_order_it_is_served(network, seed):
    """Positions (and so ETAs) follow the engine's order: priority, turns between keys, arrival."""
    from livepeer_ai.gateway import fairness

    rng = random.Random(seed)
    node("http://a", {T2I: 3})
    keys = [ApiKey.issue(f"k{i}")[0] for i in range(3)] + [None]
    for _ in range(6):
        submit(key=rng.choice(keys))
    dispatched()  # some keys hold slots now: their waiting rows' turns come later
    running = list(Job.objects.filter(queued__state=QueueState.RUNNING).order_by("id"))
    end_stage(rng.choice(running))
    for _ in range(14):
        job = submit(key=rng.choice(keys))
        QueuedStage.objects.filter(job=job).update(priority=rng.choice([0, 0, 5]))
    waiting = QueuedStage.objects.filter(state=QueueState.WAITING, pipeline=T2I[0], model_id=T2I[1])
    served = [row.job_id for row in fairness.fair_head(waiting, *T2I, waiting.count())]
    positions = {job.id: job.queue_position for job in Job.objects.filter(id__in=served)}
    assert [positions[job_id] for job_id in served] == list(range(1, len(served) + 1))


@pytest.mark.django_db
def test_the_fallback_provider_serves_in_turns_and_under_the_keys_cap(network, settings):
    settings.FALLBACK_PROVIDER_URL = "http://fallback.example"
    settings.API_KEY_MAX_RUNNING = 1
    flood, other = ApiKey.issue("flood")[0], ApiKey.issue("other")[0]
    backlog = [create_api_job("image-to-image", {"prompt": "x", "model_id": T2I[1]}, None, flood) for _ in range(3)]
    late = create_api_job("image-to-image", {"prompt": "y", "model_id": T2I[1]}, None, other)
    taken = [a.job_id for a in queue.dispatch("image-to-image", T2I[1], "w1")]
    assert taken == [str(backlog[0].id), str(late.id)]
    # Past the maximum wait too: the capped key still runs one at a time there.
    settings.QUEUE_MAX_WAIT_S = 0
    assert queue.expire_waiting("w1") == []
    end_stage(backlog[0])
    assert [a.job_id for a in queue.expire_waiting("w1")] == [str(backlog[1].id)]


@pytest.mark.django_db
def test_jobs_finished_is_told_once_and_a_failing_listener_never_undoes_the_finish(network):
    heard: list[tuple[list[Any], str]] = []

    def listener(sender: Any, job_ids: list[Any], status: str, **kwargs: Any) -> None:
        heard.append((job_ids, status))
        with transaction.atomic():  # as a listener must: its error rolls back its own savepoint only
            connection.cursor().execute("SELECT * FROM no_such_table")

    job = submit()
    queue.jobs_finished.connect(listener, dispatch_uid="test-listener")
    try:
        assert queue.finish_jobs([job.id], JobStatus.SUCCEEDED) == [job.id]
        assert queue.finish_jobs([job.id], JobStatus.SUCCEEDED) == []
    finally:
        queue.jobs_finished.disconnect(dispatch_uid="test-listener")
    assert heard == [([job.id], JobStatus.SUCCEEDED)]
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and not QueuedStage.objects.filter(job=job).exists()


@pytest.mark.django_db
def test_a_gateway_that_cannot_pay_fails_the_job_and_blames_no_node(network, settings, monkeypatch):
    from livepeer_ai.gateway import dispatch, payment
    from livepeer_ai.messages import GATEWAY_CANNOT_PAY
    from livepeer_ai.runner.client import RunnerError

    # On chain, with no key to sign tickets with: the gateway's own misconfiguration.
    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:9"
    settings.GATEWAY_KEYSTORE = ""
    monkeypatch.delenv(settings.GATEWAY_PRIVATE_KEY_ENV, raising=False)
    payment.gateway_sender.cache_clear()
    seller = node("http://a", {T2I: 1})
    job = submit()
    (assignment,) = queue.dispatch(*T2I, "w1")
    with pytest.raises(RunnerError) as refused:
        payment.pay_for_stage(seller, *T2I, 64 * 64)
    assert refused.value.code == GATEWAY_CANNOT_PAY
    dispatch.failed(assignment, refused.value, 0.1)
    seller.refresh_from_db()
    job.refresh_from_db()
    assert (seller.failures_in_row, seller.suspended_until) == (0, None)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "internal_error")
    assert "The gateway cannot pay" in job.error_message
