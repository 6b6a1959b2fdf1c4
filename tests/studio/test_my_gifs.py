"""My GIFs (thumbnails, paged, filtered by round and status) and what every GIF offers: download,
copy the prompt, remix or reuse the seed (the create form pre-filled), and the aspect ratio asked for."""

from __future__ import annotations

import re

import pytest

from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.workflow import UPSCALE_FACTOR
from studio.creation import SIZES, start_generation
from studio.models import Entry, Safety
from studio.refusals import Refused
from studio.views.jobs import MY_GIFS_PAGE_SIZE
from tests.studio.conftest import text_of
from tests.studio.factories import make_entry, make_generation, make_round

DEFAULTS = {"text_to_image_steps": 6, "image_to_video_steps": 12, "motion_bucket_id": 127, "fps": 6}


def card_ids(html: str) -> list[str]:
    return re.findall(r'id="gif-([0-9a-f-]{36})"', html)


def field_value(html: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    if not found:
        return None
    value = re.search(r'value="([^"]*)"', found.group(0))
    return value.group(1) if value else ""


@pytest.mark.django_db
def test_my_gifs_needs_a_login_and_shows_only_my_own(client, personas, other_member):
    assert client.get("/my-gifs/")["Location"].startswith("/accounts/login/?next=/my-gifs/")
    mine = make_generation(personas.member, prompt="my lighthouse")
    theirs = make_generation(other_member, prompt="their lighthouse")
    client.force_login(personas.member)
    html = client.get("/my-gifs/").content.decode()
    assert card_ids(html) == [str(mine.job_id)]
    assert str(theirs.job_id) not in html
    # A finished GIF shows as its thumbnail and can be downloaded, remixed, its seed reused, its prompt copied.
    assert f'src="{mine.job.final_output_url("gif")}"' in html
    assert f'href="{mine.job.final_output_url("gif")}" class="download-gif" download' in html
    assert f"?remix={mine.job_id}" in html and f"?seed={mine.job_id}" in html
    assert 'data-copy="my lighthouse"' in html
    assert 'id="nav-my-gifs"' in html


@pytest.mark.django_db
def test_my_gifs_filters_by_round_and_status(client, personas):
    spring, autumn = make_round(title="Spring"), make_round(title="Autumn")
    done_in_spring = make_generation(personas.member, spring)
    failed_in_spring = make_generation(personas.member, spring, status=JobStatus.FAILED)
    done_in_autumn = make_generation(personas.member, autumn)
    outside = make_generation(personas.member, None, status=JobStatus.RUNNING)
    entered = make_entry(personas.member, autumn)
    client.force_login(personas.member)

    def shown(query: str) -> set[str]:
        response = client.get(f"/my-gifs/?{query}")
        assert response.status_code == 200
        return set(card_ids(response.content.decode()))

    assert shown(f"round={spring.slug}") == {str(done_in_spring.job_id), str(failed_in_spring.job_id)}
    assert shown(f"round={spring.slug}&status=failed") == {str(failed_in_spring.job_id)}
    assert shown("status=finished") == {str(done_in_spring.job_id), str(done_in_autumn.job_id), str(entered.job_id)}
    assert shown("status=entered") == {str(entered.job_id)}
    assert shown("round=none") == {str(outside.job_id)}
    assert shown("status=in-progress") == {str(outside.job_id)}
    # An unknown value filters nothing and is said, never a 500.
    response = client.get("/my-gifs/?status=bogus&round=nope")
    assert response.status_code == 200 and len(card_ids(response.content.decode())) == 5
    assert "Select a valid choice" in text_of(response)


@pytest.mark.django_db
def test_my_gifs_pages_keep_the_filters(client, personas):
    round = make_round()
    for number in range(MY_GIFS_PAGE_SIZE + 2):
        make_generation(personas.member, round, prompt=f"gif {number}")
    make_generation(personas.member, None)
    client.force_login(personas.member)
    first = client.get(f"/my-gifs/?round={round.slug}").content.decode()
    assert len(card_ids(first)) == MY_GIFS_PAGE_SIZE
    assert f'href="?round={round.slug}&amp;page=2"' in first
    second = client.get(f"/my-gifs/?round={round.slug}&page=2").content.decode()
    assert len(card_ids(second)) == 2
    assert not set(card_ids(first)) & set(card_ids(second))


@pytest.mark.django_db
def test_remix_prefills_the_form_with_the_gifs_settings_and_a_new_seed(client, personas):
    generation = make_generation(
        personas.member,
        prompt="a fox in the snow",
        negative_prompt="blurry",
        style="pixel-art",
        seed=99,
        size="landscape",
        text_to_image_steps=9,
        image_to_video_steps=7,
        motion_bucket_id=40,
        fps=8,
        upscale=False,
        interpolate=True,
    )
    client.force_login(personas.member)
    html = client.get(f"/?remix={generation.job_id}").content.decode()
    assert "a fox in the snow</textarea>" in html
    assert field_value(html, "negative_prompt") == "blurry"
    assert field_value(html, "text_to_image_steps") == "9" and field_value(html, "motion_bucket_id") == "40"
    assert field_value(html, "seed") == ""  # a remix draws a new seed
    assert re.search(r'<option value="landscape"[^>]*selected', html)
    assert re.search(r'<option value="pixel-art"[^>]*selected', html)
    assert re.search(r'name="interpolate"[^>]*checked', html)
    assert 'id="prefilled"' in html


@pytest.mark.django_db
def test_remix_keeps_to_the_rounds_limits(client, personas):
    make_round(max_text_to_image_steps=4, allow_interpolation=False)
    generation = make_generation(personas.member, text_to_image_steps=30, interpolate=True)
    client.force_login(personas.member)
    html = client.get(f"/?remix={generation.job_id}").content.decode()
    assert field_value(html, "text_to_image_steps") == "4"
    assert not re.search(r'name="interpolate"[^>]*checked', html)


@pytest.mark.django_db
def test_reuse_the_seed_fills_in_only_the_seed_the_gif_was_drawn_from(client, personas):
    generation = make_generation(personas.member, prompt="a fox", seed=None)
    client.force_login(personas.member)
    html = client.get(f"/?seed={generation.job_id}").content.decode()
    assert field_value(html, "seed") == "7"  # the runner's answer (factories: seed 7), not the empty request
    assert "a fox</textarea>" not in html
    assert re.search(r'<details class="advanced" id="advanced-options" open', html)


@pytest.mark.django_db
def test_no_remix_of_a_gif_the_viewer_may_not_see(client, personas, other_member):
    # Another member's GIF the safety checker did not pass, and an entry a moderator hid.
    unchecked = make_generation(personas.member, prompt="secret prompt")
    hidden = make_entry(personas.member, make_round(), safety=Safety.CLEAN, hidden=True, prompt="hidden prompt")
    client.force_login(other_member)
    for query in (f"remix={unchecked.job_id}", f"seed={hidden.job_id}", "remix=not-a-uuid", f"remix={Job().id}"):
        response = client.get(f"/?{query}")
        assert response.status_code == 200
        page = text_of(response)
        assert "can't be remixed here" in page
        assert "secret prompt" not in page and "hidden prompt" not in page


@pytest.mark.django_db
def test_the_entry_page_offers_remix_copy_and_download(client, personas, other_member):
    entry = make_entry(personas.member, make_round(), prompt="a public fox")
    client.force_login(other_member)
    html = client.get(entry.get_absolute_url()).content.decode()
    assert f"?remix={entry.job_id}" in html and 'data-copy="a public fox"' in html
    assert 'class="download-gif" download' in html and 'class="download-mp4" download' in html
    # …and so the remix opens for the other member.
    assert "a public fox</textarea>" in client.get(f"/?remix={entry.job_id}").content.decode()


@pytest.mark.django_db
def test_the_aspect_ratio_sets_the_gifs_size(client, personas):
    client.force_login(personas.member)
    response = client.post("/jobs/", {**DEFAULTS, "prompt": "a tall tower", "size": "portrait"})
    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.parameters["width"], job.parameters["height"]) == (256, 384)
    assert job.generation.choices["size"] == "portrait"
    client.post("/jobs/", {**DEFAULTS, "prompt": "the default"})
    assert Job.objects.latest("created_at").parameters["width"] == 256
    refused = client.post("/jobs/", {**DEFAULTS, "prompt": "odd", "size": "panorama"})
    assert refused.status_code == 400 and "Select a valid choice" in text_of(refused)
    assert Entry.objects.count() == 0 and Job.objects.count() == 2


@pytest.mark.django_db
def test_a_hand_made_request_for_an_unknown_size_is_refused(personas):
    with pytest.raises(Refused, match="Unknown aspect ratio"):
        start_generation(personas.member, {"prompt": "x", "style": "", "size": "panorama", **DEFAULTS})


def test_every_aspect_ratio_is_a_size_the_video_model_takes_with_or_without_upscaling():
    # Runners take multiples of 8 (the tiny models up to 512 a side); the video model's latents
    # halve once more, so each side the first stages work at must divide by 16.
    for _label, width, height in SIZES.values():
        for side in (width, height, width // UPSCALE_FACTOR, height // UPSCALE_FACTOR):
            assert side % 16 == 0 and side <= 512


@pytest.mark.django_db
def test_the_job_page_offers_remix_and_the_seed_to_whoever_may_see_the_gif(client, personas, other_member):
    generation = make_generation(personas.member, prompt="my own fox")
    client.force_login(personas.member)
    html = client.get(generation.job.get_absolute_url()).content.decode()
    assert f"?remix={generation.job_id}" in html and f"?seed={generation.job_id}" in html
    assert 'data-copy="my own fox"' in html
    # Not checked by a safety checker and not approved: others see neither the GIF nor a way to remix it.
    client.force_login(other_member)
    html = client.get(generation.job.get_absolute_url()).content.decode()
    assert "?remix=" not in html and "data-copy" not in html
