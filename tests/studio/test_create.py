"""Making a GIF: the form and its defaults, style presets, advanced options within the round's rules,
the quota shown and enforced, and the rate limit answered with when it resets."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from livepeer_ai.gateway.models import Job, JobStatus, QueuedStage
from studio.creation import Limits, start_generation
from studio.models import Generation
from studio.refusals import Refused
from tests.studio.conftest import text_of
from tests.studio.factories import make_generation, make_round

DEFAULTS = {"text_to_image_steps": 6, "image_to_video_steps": 12, "motion_bucket_id": 127, "fps": 6}


def post(client, **fields):
    """The response, and the ids of the jobs this post put in the gateway queue."""
    before = set(QueuedStage.objects.values_list("job_id", flat=True))
    response = client.post("/jobs/", {**DEFAULTS, **fields})
    return response, [str(i) for i in QueuedStage.objects.values_list("job_id", flat=True) if i not in before]


@pytest.fixture
def member_client(client, personas):
    client.force_login(personas.member)
    return client


@pytest.mark.django_db
def test_index_shows_the_form_with_the_protocol_defaults(member_client):
    html = member_client.get("/").content.decode()
    assert 'name="prompt"' in html and 'name="negative_prompt"' in html and 'name="style"' in html
    assert 'name="motion_bucket_id" value="127"' in html
    assert 'name="fps" value="6"' in html
    assert 'name="text_to_image_steps" value="6"' in html and 'name="image_to_video_steps" value="12"' in html
    assert "hx-ws" in html  # the vendored htmx ws extension, no CDN
    assert "https://" not in html.split("<body")[0]


@pytest.mark.django_db
def test_visitors_see_an_invitation_to_sign_up_instead_of_the_form(client):
    html = client.get("/").content.decode()
    assert 'id="login-to-create"' in html
    assert 'name="prompt"' not in html


@pytest.mark.django_db
def test_submitting_a_prompt_creates_a_job_and_enqueues_its_driver(member_client, personas):
    response, enqueue = post(member_client, prompt="a dancing robot", seed="12")
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.id}/"
    assert job.prompt == "a dancing robot"
    assert job.owner == personas.member
    assert job.parameters["seed"] == 12
    assert job.stages == ["text-to-image", "image-to-video"]
    assert job.status == JobStatus.QUEUED
    assert enqueue == [str(job.id)]


@pytest.mark.django_db
def test_advanced_options_left_out_take_the_defaults(member_client):
    response = member_client.post("/jobs/", {"prompt": "plain", "fps": ""})
    assert response.status_code == 302
    parameters = Job.objects.get().parameters
    assert {name: parameters[name] for name in DEFAULTS} == DEFAULTS


@pytest.mark.django_db
def test_htmx_submit_redirects_the_client(member_client):
    response = member_client.post("/jobs/", {"prompt": "htmx", **DEFAULTS}, HTTP_HX_REQUEST="true")
    job = Job.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/jobs/{job.id}/"


@pytest.mark.django_db
def test_style_and_advanced_options_reach_the_job(member_client):
    make_round()
    post(
        member_client,
        prompt="a fox",
        negative_prompt="text",
        style="pixel-art",
        text_to_image_steps=3,
        image_to_video_steps=9,
        motion_bucket_id=200,
        fps=10,
        upscale="on",
        interpolate="on",
    )
    job = Job.objects.get()
    assert job.prompt == "a fox, pixel art, 16-bit, crisp edges, limited palette"
    assert job.parameters["negative_prompt"] == "text, blurry, photo"
    assert job.parameters["style"] == "pixel-art"
    assert (job.parameters["text_to_image_steps"], job.parameters["image_to_video_steps"]) == (3, 9)
    assert (job.parameters["motion_bucket_id"], job.parameters["fps"]) == (200, 10)
    assert job.stages == ["text-to-image", "image-to-video", "upscale", "frame-interpolation"]
    assert Generation.objects.get().prompt == "a fox"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"prompt": "   "}, "This field is required"),
        ({"prompt": "x" * 501}, "at most 500"),
        ({"prompt": "ok", "seed": "-1"}, "greater than or equal to 0"),
        ({"prompt": "ok", "motion_bucket_id": "300"}, "less than or equal to 255"),
        ({"prompt": "ok", "style": "vaporwave"}, "Select a valid choice"),
    ],
    ids=["blank", "too-long", "negative-seed", "motion-too-high", "unknown-style"],
)
def test_bad_prompt_is_refused_with_a_message(member_client, form, message):
    response, enqueue = post(member_client, **form)
    assert response.status_code == 400
    assert message in text_of(response)
    assert not Job.objects.exists()
    assert enqueue == []


@pytest.mark.django_db
def test_steps_are_bounded_by_the_rounds_rules(member_client):
    make_round(max_text_to_image_steps=4, max_image_to_video_steps=8)
    html = member_client.get("/").content.decode()
    assert re.search(r'name="text_to_image_steps" value="4"[^>]*max="4"|max="4"[^>]*name="text_to_image_steps"', html)
    response, _ = post(member_client, prompt="too many", text_to_image_steps=5, image_to_video_steps=8)
    assert response.status_code == 400
    assert "less than or equal to 4" in text_of(response)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_stages_the_round_forbids_are_disabled_and_refused(member_client, personas):
    make_round(allow_upscale=False)
    html = member_client.get("/").content.decode()
    assert re.search(r'<input[^>]*name="upscale"[^>]*disabled', html)
    post(member_client, prompt="no upscale", upscale="on")
    assert Job.objects.get().stages == ["text-to-image", "image-to-video"]  # a disabled field keeps its initial
    with pytest.raises(Refused, match="do not allow upscaling"):
        start_generation(personas.member, {"prompt": "x", "style": "", "upscale": True, **DEFAULTS})


@pytest.mark.django_db
def test_the_page_shows_how_many_gifs_are_left_in_the_round(member_client, personas):
    round = make_round(generations_per_member=3)
    make_generation(personas.member, round)
    make_generation(personas.member, round, status=JobStatus.FAILED)  # not the member's fault: not counted
    make_generation(personas.member, None)  # outside the round
    html = member_client.get("/").content.decode()
    assert 'data-left="2" data-quota="3"' in html
    assert "You have <strong>2</strong> of 3 GIFs left in this round." in html


@pytest.mark.django_db
def test_a_gif_canceled_before_its_first_frame_is_given_back_and_the_rule_is_on_the_page(member_client, personas):
    round = make_round(generations_per_member=3)
    early = make_generation(personas.member, round, status=JobStatus.CANCELED)
    Job.objects.filter(pk=early.job_id).update(stage_index=0)  # canceled while the first frame was being made
    make_generation(personas.member, round, status=JobStatus.CANCELED)  # canceled later: it counts
    html = member_client.get("/").content.decode()
    assert 'data-left="2" data-quota="3"' in html
    assert "canceled before their first frame was made, don&#x27;t count" in html


@pytest.mark.django_db
def test_with_no_gifs_left_generate_is_disabled_with_the_reason(member_client, personas):
    round = make_round(generations_per_member=1)
    make_generation(personas.member, round)
    html = member_client.get("/").content.decode()
    assert re.search(r'<button[^>]*id="generate"[^>]*disabled[^>]*aria-describedby="no-gifs-left"', html)
    assert 'id="no-gifs-left">You have made every GIF this round allows' in html


@pytest.mark.django_db
def test_over_quota_is_refused_with_a_clear_message(member_client, personas):
    round = make_round(generations_per_member=2, title="Spring jam")
    make_generation(personas.member, round)
    response, _ = post(member_client, prompt="second")
    assert response.status_code == 302
    response, enqueue = post(member_client, prompt="third")
    assert response.status_code == 403
    assert "You have made all 2 GIFs this round allows (“Spring jam”)" in text_of(response)
    assert Generation.objects.filter(round=round).count() == 2
    assert enqueue == []


@pytest.mark.django_db
def test_quota_is_per_member(client, personas, other_member):
    round = make_round(generations_per_member=1)
    make_generation(personas.member, round)
    client.force_login(other_member)
    response, _ = post(client, prompt="mine")
    assert response.status_code == 302


@pytest.mark.django_db
def test_generations_join_the_round_taking_prompts(member_client):
    now = timezone.now()
    make_round(prompt_opens_at=now + timedelta(days=1), prompt_closes_at=now + timedelta(days=2))
    current = make_round()
    post(member_client, prompt="now")
    assert Generation.objects.get().round == current


@pytest.mark.django_db
def test_outside_any_round_members_still_create_without_a_quota(member_client, personas):
    for index in range(3):
        response, _ = post(member_client, prompt=f"free {index}")
        assert response.status_code == 302
    assert Generation.objects.filter(round__isnull=True).count() == 3
    assert Limits.of(None).max_image_to_video_steps == 25  # the runner API's own default as the ceiling


@pytest.mark.django_db
def test_rate_limited_creation_answers_429_with_when_it_resets(member_client, settings):
    settings.STUDIO_CREATE_RATE = "2/m"
    for index in range(2):
        assert post(member_client, prompt=f"ok {index}")[0].status_code == 302
    before = timezone.now()
    response, enqueue = post(member_client, prompt="one too many")
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert 1 <= seconds <= 60
    html = response.content.decode()
    assert f'data-retry-after="{seconds}"' in html
    assert f"Try again in {seconds} second" in html
    resets_at = datetime.fromisoformat(re.search(r'<time datetime="([^"]+)"', html).group(1))
    assert before + timedelta(seconds=seconds - 2) <= resets_at <= timezone.now() + timedelta(seconds=seconds + 2)
    assert Job.objects.count() == 2
    assert enqueue == []


@pytest.mark.django_db
def test_rate_limit_is_per_member(client, personas, other_member, settings):
    settings.STUDIO_CREATE_RATE = "1/m"
    client.force_login(personas.member)
    assert post(client, prompt="a")[0].status_code == 302
    assert post(client, prompt="b")[0].status_code == 429
    client.force_login(other_member)
    assert post(client, prompt="c")[0].status_code == 302


@pytest.mark.django_db
def test_htmx_rate_limit_answer_is_a_fragment(member_client, settings):
    settings.STUDIO_CREATE_RATE = "1/m"
    post(member_client, prompt="a")
    response = member_client.post("/jobs/", {"prompt": "b", **DEFAULTS}, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert response.content.decode().lstrip().startswith('<p class="error notice" role="alert" data-rate-limited')
    assert response["HX-Reswap"] == "beforebegin"  # the form stays, the message goes above it


@pytest.mark.django_db(transaction=True)
def test_two_tabs_racing_for_the_last_gif_get_one(personas):
    import threading

    from django.db import connection

    round = make_round(generations_per_member=1)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def create() -> None:
        barrier.wait()
        try:
            outcomes.append(start_generation(personas.member, {"prompt": "race", "style": "", **DEFAULTS}))
        except Refused as refusal:
            outcomes.append(refusal)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(type(o).__name__ for o in outcomes) == ["Generation", "Refused"]
    assert Generation.objects.filter(round=round).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("stage", ["text-to-image", "frame-interpolation"])
def test_a_stage_whose_model_the_curators_disabled_is_refused_before_any_job(member_client, personas, stage):
    from django.conf import settings

    from livepeer_ai.registry import curation
    from livepeer_ai.registry.models import ModelEntry

    entry = ModelEntry.objects.get(pipeline=stage, model_id=settings.DEFAULT_MODELS[stage])
    curation.disable(entry, personas.admin, note="licence withdrawn")
    response, enqueue = post(member_client, prompt="a dancing robot", interpolate="on")
    assert response.status_code == 503
    assert "disabled by the network's curators" in text_of(response)
    assert not Job.objects.exists()
    assert enqueue == []
    # A GIF the curators still allow goes through.
    if stage == "frame-interpolation":
        assert post(member_client, prompt="a dancing robot")[0].status_code == 302
