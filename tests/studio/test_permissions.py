"""Who may do what, per persona: visitors browse and are sent to log in; members create, enter, vote and
report; only the maker cancels, retries or enters a job; only staff moderate."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from livepeer_ai.gateway.models import Job, JobStatus
from studio.models import Entry, Report, Safety
from tests.studio.factories import make_entry, make_generation, make_round

LOGIN = "/accounts/login/"
FORM = {"prompt": "p", "text_to_image_steps": 6, "image_to_video_steps": 12, "motion_bucket_id": 127, "fps": 6}


def client_for(personas: Any, other_member: Any, who: str) -> Client:
    client = Client()
    user = {"member": personas.member, "other_member": other_member, "operator": personas.operator}.get(who)
    user = user or (personas.admin if who == "admin" else None)
    if user is not None:
        client.force_login(user)
    return client


def assert_sent_to_login(response: Any) -> None:
    assert response.status_code == 302 and response["Location"].startswith(LOGIN), response


@pytest.fixture
def scene(personas: Any, other_member: Any) -> dict[str, Any]:
    """The member's running, failed and finished jobs, and an entry of theirs waiting for review."""
    round = make_round()
    running = make_generation(personas.member, round, status=JobStatus.RUNNING).job
    failed = make_generation(personas.member, round, status=JobStatus.FAILED).job
    finished = make_generation(personas.member, round).job
    entry = make_entry(personas.member, round, safety=Safety.CLEAN)
    pending = make_entry(personas.member, round, safety=Safety.UNCHECKED)
    return {"running": running, "failed": failed, "finished": finished, "entry": entry, "pending": pending}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", "login"), ("member", 302), ("other_member", 302), ("operator", 302), ("admin", 302)],
)
def test_create(personas, other_member, who, expected):
    response = client_for(personas, other_member, who).post("/jobs/", FORM)
    if expected == "login":
        assert_sent_to_login(response)
        assert not Job.objects.exists()
    else:
        assert response.status_code == expected and Job.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", "login"), ("member", 302), ("other_member", 404), ("admin", 404)]
)
def test_cancel(personas, other_member, scene, who, expected):
    job = scene["running"]
    response = client_for(personas, other_member, who).post(f"/jobs/{job.id}/cancel/")
    job.refresh_from_db()
    if expected == "login":
        assert_sent_to_login(response)
    else:
        assert response.status_code == expected
    assert (job.status == JobStatus.CANCELED) == (who == "member")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", "login"), ("member", 302), ("other_member", 404), ("admin", 404)]
)
def test_retry(personas, other_member, scene, who, expected):
    before = Job.objects.count()
    response = client_for(personas, other_member, who).post(f"/jobs/{scene['failed'].id}/retry/")
    if expected == "login":
        assert_sent_to_login(response)
    else:
        assert response.status_code == expected
    assert Job.objects.count() == before + (1 if who == "member" else 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", "login"), ("member", 302), ("other_member", 404), ("admin", 404)]
)
def test_enter(personas, other_member, scene, who, expected):
    response = client_for(personas, other_member, who).post(f"/jobs/{scene['finished'].id}/enter/")
    if expected == "login":
        assert_sent_to_login(response)
    else:
        assert response.status_code == expected
    assert Entry.objects.filter(job=scene["finished"]).exists() == (who == "member")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", "login"), ("member", 403), ("other_member", 302), ("admin", 302)]
)
def test_vote(personas, other_member, scene, who, expected):
    entry = scene["entry"]
    response = client_for(personas, other_member, who).post(f"/entries/{entry.pk}/vote/")
    if expected == "login":
        assert_sent_to_login(response)
    else:
        assert response.status_code == expected
    entry.refresh_from_db()
    assert entry.vote_count == (1 if expected == 302 else 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", "login"), ("member", 403), ("other_member", 200), ("admin", 200)]
)
def test_report(personas, other_member, scene, who, expected):
    response = client_for(personas, other_member, who).post(
        f"/entries/{scene['entry'].pk}/report/", {"reason": "other"}
    )
    if expected == "login":
        assert_sent_to_login(response)
    else:
        assert response.status_code == expected
    assert Report.objects.count() == (1 if expected == 200 else 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", "login"), ("member", 403), ("other_member", 403), ("admin", 302)]
)
def test_moderate(personas, other_member, scene, who, expected):
    client = client_for(personas, other_member, who)
    page = client.get("/moderation/")
    response = client.post(f"/moderation/entries/{scene['pending'].pk}/approve/")
    if expected == "login":
        assert_sent_to_login(page)
        assert_sent_to_login(response)
    else:
        assert page.status_code == (200 if who == "admin" else 403)
        assert response.status_code == expected
    scene["pending"].refresh_from_db()
    assert (scene["pending"].approved_at is not None) == (who == "admin")


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "member", "other_member", "admin"])
def test_everyone_browses(personas, other_member, scene, who):
    client = client_for(personas, other_member, who)
    entry = scene["entry"]
    for url in (
        "/",
        "/rounds/",
        entry.round.get_absolute_url(),
        entry.get_absolute_url(),
        scene["finished"].get_absolute_url(),
    ):
        assert client.get(url).status_code == 200, url
