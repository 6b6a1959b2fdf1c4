"""The create page's LoRA picker: it offers the approved LoRAs the studio's image model takes, and the one
picked reaches the text-to-image stage as the runner API's `loras`; one no longer approved is refused."""

from __future__ import annotations

import html
import json

import pytest

from livepeer_ai.gateway.models import Job
from livepeer_ai.gateway.workflow import text_to_image_body
from livepeer_ai.registry import curation, loras
from livepeer_ai.registry.models import EntryStatus, LoraEntry
from studio.creation import LORA_WEIGHT
from studio.models import Generation

pytestmark = pytest.mark.django_db

# The studio's text-to-image model is the tiny SDXL Turbo (DEFAULT_MODELS): SDXL LoRAs apply to it.
PIXEL = "nerijs/pixel-art-xl"


def add_lora(name: str, base: str = "sdxl", status: str = EntryStatus.APPROVED, description: str = "") -> LoraEntry:
    fields = {"name": name, "base": base, "local_path": f"/loras/{name.split('/')[-1]}.safetensors"}
    return loras.register_lora({**fields, "description": description}, status=status)


@pytest.fixture
def member_client(client, personas):
    client.force_login(personas.member)
    return client


def test_the_picker_offers_approved_loras_for_the_studios_model_only(member_client):
    add_lora(PIXEL, description="Pixel art, 8-bit")
    add_lora("someone/pending-style", status=EntryStatus.PENDING)
    add_lora("someone/ink-wash", base="sd15")

    page = member_client.get("/").content.decode()

    assert 'name="lora"' in page
    assert f'<option value="{PIXEL}">Pixel art, 8-bit</option>' in page
    assert "someone/pending-style" not in page and "someone/ink-wash" not in page


def test_with_no_lora_approved_there_is_no_picker(member_client):
    add_lora("someone/ink-wash", base="sd15")
    assert 'name="lora"' not in member_client.get("/").content.decode()


def test_the_picked_lora_reaches_the_text_to_image_stage(member_client):
    add_lora(PIXEL)
    response = member_client.post("/jobs/", {"prompt": "a robot", "lora": PIXEL})
    assert response.status_code == 302, response.content
    job = Job.objects.get()
    assert json.loads(text_to_image_body(job)["loras"]) == {PIXEL: LORA_WEIGHT}
    assert Generation.objects.get().choices["lora"] == PIXEL


def test_without_a_pick_the_stage_sends_no_loras(member_client):
    add_lora(PIXEL)
    assert member_client.post("/jobs/", {"prompt": "a robot"}).status_code == 302
    assert "loras" not in text_to_image_body(Job.objects.get())


def test_a_lora_not_on_offer_is_a_form_error(member_client):
    add_lora("someone/pending-style", status=EntryStatus.PENDING)
    response = member_client.post("/jobs/", {"prompt": "a robot", "lora": "someone/pending-style"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Job.objects.exists()


def test_retrying_with_a_lora_disabled_since_is_refused_naming_it(member_client, personas):
    entry = add_lora(PIXEL)
    assert member_client.post("/jobs/", {"prompt": "a robot", "lora": PIXEL}).status_code == 302
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(status="failed")
    curation.disable(entry, None, "withdrawn")

    response = member_client.post(f"/jobs/{job.id}/retry/")

    assert response.status_code == 400, response.content
    assert f"LoRA {PIXEL!r} has been disabled" in html.unescape(response.content.decode())
    assert Job.objects.count() == 1
