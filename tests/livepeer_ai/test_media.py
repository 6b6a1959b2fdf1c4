"""Stored files go only to who may see them: the maker and staff always; everyone a public entry's GIF or a
never-entered GIF the safety checker passed; an API job's key holder through its signed links. The same rule
keeps receipts. A front server can be handed the file (X-Accel-Redirect, X-Sendfile)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from livepeer_ai.gateway.media_links import signed_media_url
from livepeer_ai.gateway.models import ApiKey, Job, JobStatus, Receipt
from studio.models import Safety
from studio.moderation import hide
from tests.studio.factories import make_entry, make_generation, make_round

pytestmark = pytest.mark.django_db

GIF = b"GIF89a-stand-in-bytes"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def gif_path(job: Job) -> str:
    """The job's GIF, written to storage where its outputs say it is."""
    path = job.outputs["image-to-video"]["gif"]
    default_storage.save(path, ContentFile(GIF))
    return path


def fetch(viewer, url: str, **headers) -> int:
    client = Client()
    if viewer is not None:
        client.force_login(viewer)
    return client.get(url, **headers).status_code


def statuses(personas, url: str) -> dict[str, int]:
    viewers = {"visitor": None, "other": personas.operator, "maker": personas.member, "staff": personas.admin}
    return {name: fetch(viewer, url) for name, viewer in viewers.items()}


EVERYONE = {"visitor": 200, "other": 200, "maker": 200, "staff": 200}
MAKER_AND_STAFF = {"visitor": 404, "other": 404, "maker": 200, "staff": 200}


def test_a_public_entrys_gif_is_served_to_everyone_and_kept_out_of_shared_caches(client, personas):
    path = gif_path(make_entry(personas.member, make_round(), safety=Safety.CLEAN).job)
    assert statuses(personas, f"/media/{path}") == EVERYONE
    response = client.get(f"/media/{path}")
    assert b"".join(response.streaming_content) == GIF
    assert response["Content-Type"] == "image/gif" and "private" in response["Cache-Control"]


def test_a_hidden_entrys_gif_goes_only_to_its_maker_and_staff(personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.CLEAN)
    path = gif_path(entry.job)
    hide(entry, personas.admin)
    assert statuses(personas, f"/media/{path}") == MAKER_AND_STAFF


def test_an_entry_awaiting_review_is_withheld_until_a_moderator_approves_it(personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.UNCHECKED)
    path = gif_path(entry.job)
    assert statuses(personas, f"/media/{path}") == MAKER_AND_STAFF
    entry.approved_at = timezone.now()
    entry.save()
    assert statuses(personas, f"/media/{path}") == EVERYONE


def test_a_never_entered_gif_the_safety_checker_never_passed_goes_only_to_its_maker_and_staff(personas):
    unchecked = gif_path(make_generation(personas.member).job)
    flagged = gif_path(make_generation(personas.member, checked=True, nsfw=True).job)
    assert statuses(personas, f"/media/{unchecked}") == MAKER_AND_STAFF
    assert statuses(personas, f"/media/{flagged}") == MAKER_AND_STAFF


def test_a_never_entered_gif_the_safety_checker_passed_is_shared_by_its_link(personas):
    path = gif_path(make_generation(personas.member, checked=True).job)
    assert statuses(personas, f"/media/{path}") == EVERYONE


def api_job_file(name: str = "image-0.png") -> tuple[Job, str]:
    key, _ = ApiKey.issue("client")
    job = Job.objects.create(prompt="api", api_key=key, stages=["text-to-image"], status=JobStatus.SUCCEEDED)
    path = default_storage.save(f"jobs/{job.id}/{name}", ContentFile(b"png"))
    return job, path


def test_an_api_jobs_files_go_to_whoever_holds_the_links_its_results_carry(personas, settings):
    _, path = api_job_file()
    _, other_path = api_job_file()
    assert statuses(personas, f"/media/{path}") == {"visitor": 404, "other": 404, "maker": 404, "staff": 200}
    link = signed_media_url(path)
    assert link.startswith(f"/media/{path}?signature=")
    assert fetch(None, link) == 200
    # The signature covers one path: it opens no other file.
    signature = link.split("?", 1)[1]
    assert fetch(None, f"/media/{other_path}?{signature}") == 404
    assert fetch(None, f"/media/{path}?signature=forged") == 404
    settings.MEDIA_LINK_MAX_AGE_S = -1  # every link already too old
    assert fetch(None, link) == 404


def test_the_api_answers_with_signed_links(client, rf):
    from livepeer_ai.gateway.api import media_url

    _, path = api_job_file()
    url = media_url(rf.get("/api/v1/jobs/x"), path)
    assert url.startswith(f"http://testserver/media/{path}?signature=")
    assert client.get(url.removeprefix("http://testserver")).status_code == 200


def test_a_path_that_walks_into_another_jobs_folder_is_refused(personas):
    public = make_entry(personas.member, make_round(), safety=Safety.CLEAN).job
    hidden = make_entry(personas.member, make_round(), safety=Safety.CLEAN)
    path = gif_path(hidden.job)
    hide(hidden, personas.admin)
    walk = f"/media/jobs/{public.id}/../{path.removeprefix('jobs/')}"
    assert fetch(None, walk) == 404
    assert fetch(None, f"/media/jobs/{public.id}//image-to-video/video.gif") == 404
    assert fetch(personas.admin, "/media/../livepeer_ai/settings.py") == 404
    assert fetch(personas.admin, "/media/jobs/not-a-job/video.gif") == 404
    assert fetch(None, f"/media/jobs/{public.id}/image-to-video/video.gif%00.png") == 404


def test_a_missing_file_and_other_methods(personas, client):
    job = make_entry(personas.member, make_round(), safety=Safety.CLEAN).job
    assert client.get(f"/media/{job.outputs['image-to-video']['gif']}").status_code == 404  # never written
    path = gif_path(job)
    assert client.head(f"/media/{path}").status_code == 200
    assert client.post(f"/media/{path}").status_code == 405


def test_nginx_is_handed_the_file_once_the_view_allowed_it(personas, settings, client):
    settings.MEDIA_HANDOVER = "nginx"
    path = gif_path(make_entry(personas.member, make_round(), safety=Safety.CLEAN).job)
    response = client.get(f"/media/{path}")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-media/{path}"
    assert response["Content-Type"] == "image/gif"
    hidden = make_entry(personas.member, make_round(), safety=Safety.CLEAN)
    hidden_path = gif_path(hidden.job)
    hide(hidden, personas.admin)
    refused = client.get(f"/media/{hidden_path}")
    assert refused.status_code == 404 and not refused.has_header("X-Accel-Redirect")


def test_x_sendfile_gets_the_files_full_path(personas, settings, client, media_root):
    settings.MEDIA_HANDOVER = "sendfile"
    path = gif_path(make_entry(personas.member, make_round(), safety=Safety.CLEAN).job)
    response = client.get(f"/media/{path}")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Sendfile"] == str(media_root / path)


def test_a_receipt_is_shown_to_whoever_may_see_its_output(personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.CLEAN)
    receipt = Receipt.objects.create(
        job=entry.job,
        stage="image-to-video",
        kind="gif",
        path=gif_path(entry.job),
        output_sha256="0" * 64,
        signer="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        document={},
    )
    for url in (receipt.get_absolute_url(), f"/receipts/{receipt.id}/receipt.json"):
        assert statuses(personas, url) == EVERYONE
    hide(entry, personas.admin)
    for url in (receipt.get_absolute_url(), f"/receipts/{receipt.id}/receipt.json"):
        assert statuses(personas, url) == MAKER_AND_STAFF
