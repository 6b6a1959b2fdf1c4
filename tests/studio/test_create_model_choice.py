"""Choosing the first frame's model: a round lists the text-to-image models it allows (the studio's default
when it lists none), the create form offers a select only when there is a choice, the job runs the model
picked, the LoRA picker keeps to that model's family, and a model the round does not allow, or the curators
no longer approve, is refused in the form's refusal area."""

from __future__ import annotations

import json
import re

import pytest

from livepeer_ai.gateway.models import Job, JobStatus, QueuedStage
from livepeer_ai.gateway.workflow import text_to_image_body
from livepeer_ai.registry import curation, loras
from livepeer_ai.registry.models import EntryStatus, ModelEntry
from studio.creation import LORA_WEIGHT
from studio.models import Generation, Round
from tests.studio.conftest import text_of
from tests.studio.factories import make_round

pytestmark = pytest.mark.django_db

TURBO = "livepeer-ai/tiny-sdxl-turbo"  # the studio's default (DEFAULT_MODELS), family sdxl-turbo
SD15 = "livepeer-ai/tiny-sd15"
SDXL_LORA = "someone/pixel-art-xl"
SD15_LORA = "someone/ink-wash-15"


def image_model(model_id: str) -> ModelEntry:
    return ModelEntry.objects.get(pipeline="text-to-image", model_id=model_id)


def round_offering(*model_ids: str, **fields: object) -> Round:
    round = make_round(**fields)
    round.text_to_image_models.set([image_model(model_id) for model_id in model_ids])
    return round


def model_options(html: str) -> list[tuple[str, str]]:
    select = re.search(r'<select name="model"[^>]*>(.*?)</select>', html, re.S)
    assert select, "no model select on the page"
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def form_error(response) -> str:
    found = re.search(r'<p class="error" role="alert" id="form-error">(.*?)</p>', text_of(response), re.S)
    assert found, "no refusal in the form's refusal area"
    return found.group(1)


@pytest.fixture
def member_client(client, personas):
    client.force_login(personas.member)
    return client


def test_a_round_with_one_model_shows_no_model_select_and_uses_its_model(member_client):
    assert 'name="model"' not in member_client.get("/").content.decode()  # outside a round: the default
    make_round()  # lists none: the default
    assert 'name="model"' not in member_client.get("/").content.decode()
    Round.objects.all().delete()
    round_offering(SD15)
    assert 'name="model"' not in member_client.get("/").content.decode()
    assert member_client.post("/jobs/", {"prompt": "a heron"}).status_code == 302
    assert text_to_image_body(Job.objects.get())["model_id"] == SD15


def test_a_round_with_two_models_offers_both_by_name_the_default_first(member_client):
    round_offering(SD15, TURBO)
    options = model_options(member_client.get("/").content.decode())
    assert options == [
        (TURBO, f"{TURBO} (SDXL Turbo / Lightning)"),
        (SD15, f"{SD15} (Stable Diffusion 1.x)"),
    ]


def test_the_picked_model_draws_the_first_frame(member_client):
    round_offering(TURBO, SD15)
    response = member_client.post("/jobs/", {"prompt": "a heron", "model": SD15})
    assert response.status_code == 302, text_of(response)
    job = Job.objects.get()
    assert text_to_image_body(job)["model_id"] == SD15
    # It waits in the queue of that model's nodes, and the GIF remembers it for a remix or a retry.
    assert QueuedStage.objects.get(job=job).capability == f"text-to-image {SD15}"
    assert Generation.objects.get(job=job).choices["model"] == SD15


def test_without_a_pick_the_first_model_offered_is_used_and_remembered(member_client):
    round_offering(TURBO, SD15)
    assert member_client.post("/jobs/", {"prompt": "a heron"}).status_code == 302
    assert Generation.objects.get().choices["model"] == TURBO


def test_a_model_the_round_does_not_allow_is_refused_in_the_refusal_area(member_client):
    round_offering(TURBO)
    response = member_client.post("/jobs/", {"prompt": "a heron", "model": SD15})
    assert response.status_code == 400
    assert form_error(response) == f"This round doesn't allow the model {SD15!r}; it allows {TURBO}."
    assert not Job.objects.exists()
    htmx = member_client.post("/jobs/", {"prompt": "a heron", "model": "nobody/anything"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 400 and "doesn't allow the model 'nobody/anything'" in form_error(htmx)
    huge = member_client.post("/jobs/", {"prompt": "a heron", "model": "x" * 100_000})
    assert huge.status_code == 400 and len(form_error(huge)) < 400


def test_a_model_the_curators_disabled_since_is_refused_and_no_longer_offered(member_client, personas):
    round_offering(TURBO, SD15)
    curation.disable(image_model(SD15), personas.admin, note="licence withdrawn")
    response = member_client.post("/jobs/", {"prompt": "a heron", "model": SD15})
    assert response.status_code == 503
    assert "disabled by the network's curators" in form_error(response)
    assert not Job.objects.exists()
    assert 'name="model"' not in member_client.get("/").content.decode()  # one model left: no choice


def test_when_the_default_is_disabled_the_rounds_other_model_is_used(member_client, personas):
    round_offering(TURBO, SD15)
    curation.disable(image_model(TURBO), personas.admin)
    assert member_client.post("/jobs/", {"prompt": "a heron"}).status_code == 302
    assert text_to_image_body(Job.objects.get())["model_id"] == SD15


def add_lora(name: str, base: str) -> None:
    fields = {"name": name, "base": base, "local_path": f"/loras/{name.split('/')[-1]}.safetensors"}
    loras.register_lora(fields, status=EntryStatus.APPROVED)


def test_the_lora_picker_lists_each_models_loras_under_its_name(member_client):
    add_lora(SDXL_LORA, "sdxl")
    add_lora(SD15_LORA, "sd15")
    round_offering(TURBO, SD15)
    html = member_client.get("/").content.decode()
    groups = dict(re.findall(r'<optgroup label="([^"]*)">(.*?)</optgroup>', html, re.S))
    assert list(groups) == [f"{TURBO} (SDXL Turbo / Lightning)", f"{SD15} (Stable Diffusion 1.x)"]
    assert (
        SDXL_LORA in groups[f"{TURBO} (SDXL Turbo / Lightning)"]
        and SD15_LORA not in groups[f"{TURBO} (SDXL Turbo / Lightning)"]
    )
    assert (
        SD15_LORA in groups[f"{SD15} (Stable Diffusion 1.x)"]
        and SDXL_LORA not in groups[f"{SD15} (Stable Diffusion 1.x)"]
    )


def test_a_one_model_round_offers_only_its_familys_loras(member_client):
    add_lora(SDXL_LORA, "sdxl")
    add_lora(SD15_LORA, "sd15")
    round_offering(SD15)
    html = member_client.get("/").content.decode()
    assert f'<option value="{SD15_LORA}">' in html and SDXL_LORA not in html


def test_a_lora_of_another_family_than_the_picked_model_is_refused(member_client):
    add_lora(SDXL_LORA, "sdxl")
    add_lora(SD15_LORA, "sd15")
    round_offering(TURBO, SD15)
    response = member_client.post("/jobs/", {"prompt": "a heron", "model": TURBO, "lora": SD15_LORA})
    assert response.status_code == 400
    assert f"LoRA {SD15_LORA!r} is made for Stable Diffusion 1.x models; {TURBO!r} is not one." in form_error(response)
    assert not Job.objects.exists()
    assert member_client.post("/jobs/", {"prompt": "a heron", "model": SD15, "lora": SD15_LORA}).status_code == 302
    assert json.loads(text_to_image_body(Job.objects.get())["loras"]) == {SD15_LORA: LORA_WEIGHT}


def test_remix_and_reuse_remember_the_model_the_round_still_offers(member_client):
    round = round_offering(TURBO, SD15)
    member_client.post("/jobs/", {"prompt": "a heron", "model": SD15})
    job = Job.objects.get()
    for kind in ("remix", "seed"):
        options = member_client.get(f"/?{kind}={job.id}").content.decode()
        assert re.search(rf'<option value="{SD15}"[^>]*selected', options), kind
    round.text_to_image_models.remove(image_model(SD15))
    # No longer offered: the form shows what the round offers (one model: no select).
    assert 'name="model"' not in member_client.get(f"/?remix={job.id}").content.decode()


def test_a_retry_asks_for_the_same_model(member_client):
    round_offering(TURBO, SD15)
    member_client.post("/jobs/", {"prompt": "a heron", "model": SD15})
    first = Job.objects.get()
    Job.objects.filter(pk=first.pk).update(status=JobStatus.FAILED)
    assert member_client.post(f"/jobs/{first.id}/retry/").status_code == 302
    retried = Job.objects.exclude(pk=first.pk).get()
    assert text_to_image_body(retried)["model_id"] == SD15


def test_the_job_page_and_my_gifs_say_which_model_made_the_gif(member_client):
    round_offering(TURBO, SD15)
    member_client.post("/jobs/", {"prompt": "a heron", "model": SD15})
    job = Job.objects.get()
    page = text_of(member_client.get(f"/jobs/{job.id}/"))
    assert f'id="job-model">First frame drawn by <code>{SD15}</code>' in page
    mine = text_of(member_client.get("/my-gifs/"))
    assert f'<span class="gif-model" title="Made with {SD15}">tiny-sd15</span>' in mine


def test_a_model_the_form_cannot_read_is_refused_with_its_reason_shown_even_without_a_select(member_client):
    round_offering(TURBO)  # one model: no select on the page, but a hand-made POST may still name one
    response = member_client.post("/jobs/", {"prompt": "a heron", "model": "a\x00b"})
    assert response.status_code == 400
    assert "Null characters are not allowed." in text_of(response)
    assert not Job.objects.exists()
