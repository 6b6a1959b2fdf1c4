"""LoRAs through the public API: `loras` as Livepeer sends it reaches the runner and changes the picture;
an unknown, unapproved or wrong-base LoRA, more than four, or a malformed field is a 400 naming what is
wrong, before any job exists."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from livepeer_ai.gateway.models import ApiKey, Job
from livepeer_ai.registry import loras
from livepeer_ai.registry.models import EntryStatus, LoraEntry
from tests.livepeer_ai.gateway.test_api import api_network, assert_documented, auth, png, post_json

SMALL = {"prompt": "api", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 11}
SDXL_LORA = "livepeer-ai/tiny-sdxl-lora"
SD15_LORA = "livepeer-ai/tiny-sd15-lora"


def add_lora(name: str, base: str, status: str = EntryStatus.APPROVED) -> LoraEntry:
    fields = {"name": name, "base": base, "local_path": f"/loras/{name.split('/')[-1]}.safetensors"}
    return loras.register_lora(fields, status=status)


@pytest.fixture
def tiny_loras(db: Any) -> list[LoraEntry]:
    """The gateway's registry approves the LoRAs build_tiny_models made for the runners."""
    return [add_lora(SDXL_LORA, "sdxl"), add_lora(SD15_LORA, "sd15")]


@pytest.fixture
def key(db: Any) -> str:
    return ApiKey.issue("lora tests")[1]


def with_loras(value: Any) -> dict[str, Any]:
    return {**SMALL, "loras": value if isinstance(value, str) else json.dumps(value)}


@pytest.mark.parametrize(
    ("loras_field", "expected"),
    [
        ({"nobody/nothing": 1.0}, "LoRA 'nobody/nothing' is not in the network's registry"),
        ({"someone/pending": 1.0}, "LoRA 'someone/pending' is awaiting approval"),
        ({"someone/disabled": 1.0}, "LoRA 'someone/disabled' has been disabled"),
        ({SD15_LORA: 1.0}, f"LoRA '{SD15_LORA}' is made for Stable Diffusion 1.x models"),
        ({SDXL_LORA: 1.0, "nobody/nothing": 0.5}, "LoRA 'nobody/nothing' is not in the network's registry"),
        (dict.fromkeys(["a/1", "a/2", "a/3", "a/4", "a/5"], 1.0), "at most 4 LoRAs; this one names 5"),
        ("{pixel-art: 1}", "loras must be a JSON object"),
        ('["a/lora"]', "loras must be a JSON object"),
        ({SDXL_LORA: "strong"}, f"The weight of LoRA '{SDXL_LORA}' must be a number"),
        ({SDXL_LORA: 12}, "between -10 and 10, got 12"),
    ],
    ids=[
        "unknown",
        "pending",
        "disabled",
        "other-base",
        "one-of-two-unknown",
        "five",
        "not-json",
        "a-list",
        "weight-text",
        "weight-12",
    ],
)
def test_bad_loras_are_refused_by_name_before_any_job(
    client, settings, approved_models, tiny_loras, key, loras_field, expected
):
    # A request let through would wait for a node that never comes: answer 202 at once instead.
    settings.API_SYNC_TIMEOUT_S = 0
    add_lora("someone/pending", "sdxl", EntryStatus.PENDING)
    add_lora("someone/disabled", "sdxl", EntryStatus.DISABLED)

    response = post_json(client, "/api/v1/text-to-image", with_loras(loras_field), key)

    assert response.status_code == 400, response.content
    assert expected in response.json()["detail"]["msg"]
    assert_documented(client, "post", "/api/v1/text-to-image", response)
    assert not Job.objects.exists()


def test_image_to_image_forms_are_checked_the_same_way(client, settings, approved_models, tiny_loras, key):
    settings.API_SYNC_TIMEOUT_S = 0
    fields = {"image": png(), "prompt": "blue", "model_id": "livepeer-ai/tiny-sd15", "loras": '{"x/y": 1}'}
    response = client.post("/api/v1/image-to-image", fields, **auth(key))
    assert response.status_code == 400, response.content
    assert "LoRA 'x/y' is not in the network's registry" in response.json()["detail"]["msg"]
    assert not Job.objects.exists()


def test_the_openapi_document_describes_the_loras_field(client):
    document = client.get("/api/v1/openapi.json").json()
    body = document["paths"]["/api/v1/text-to-image"]["post"]["requestBody"]["content"]["application/json"]
    field = body["schema"]["properties"]["loras"]
    assert field["type"] == "string" and "maxLength" not in field
    assert "at most 4" in field["description"]


@pytest.fixture
def network(runners: Any, settings: Any, tmp_path: Any, approved_models: Any, tiny_loras: Any) -> Iterator[None]:
    with api_network(runners, settings, tmp_path, ("text-to-image", "image-to-image"), 120):
        yield


def image_bytes(client: Any, response: Any) -> bytes:
    assert response.status_code == 200, response.content
    url = response.json()["images"][0]["url"].removeprefix("http://testserver")
    return b"".join(client.get(url).streaming_content)


@pytest.mark.django_db(transaction=True)
def test_a_named_lora_reaches_the_runner_and_changes_the_picture(client, network, key):
    styled = post_json(client, "/api/v1/text-to-image", with_loras({SDXL_LORA: 0.8}), key)
    assert_documented(client, "post", "/api/v1/text-to-image", styled)
    base = post_json(client, "/api/v1/text-to-image", SMALL, key)
    assert image_bytes(client, styled) != image_bytes(client, base)
    sent = [job.parameters["request"].get("loras") for job in Job.objects.order_by("created_at")]
    assert sent == [json.dumps({SDXL_LORA: 0.8}), None]


@pytest.mark.django_db(transaction=True)
def test_image_to_image_applies_a_lora_end_to_end(client, network, key):
    def post(**extra: str) -> Any:
        buffer = io.BytesIO(png().getvalue())
        buffer.name = "in.png"
        fields = {"image": buffer, "prompt": "blue", "model_id": "livepeer-ai/tiny-sd15", "seed": "3", **extra}
        return client.post("/api/v1/image-to-image", {**fields, "num_inference_steps": "4"}, **auth(key))

    styled, base = post(loras=json.dumps({SD15_LORA: 1.0})), post()
    assert image_bytes(client, styled) != image_bytes(client, base)
