"""LoRAs through the runner's HTTP API, on the suite's runners (whose registry approves the tiny LoRAs):
a named LoRA changes the picture, and the next request without one gets the base picture again, byte for byte."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import HTTP, RunnerFleet, health
from tests.livepeer_ai.runner.test_pipelines_http import png

pytestmark = pytest.mark.integration

T2I = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 9}


def first_image(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["images"][0]["url"])


def text_to_image(runners: RunnerFleet, **changes: Any) -> str:
    url = f"{runners.url('text-to-image')}/text-to-image"
    return first_image(HTTP.post(url, json={**T2I, **changes}, timeout=120))


def test_text_to_image_applies_the_lora_it_names_and_only_for_that_request(runners):
    base = text_to_image(runners)
    styled = text_to_image(runners, loras=json.dumps({"livepeer-ai/tiny-sdxl-lora": 0.9}))
    assert styled != base
    # Livepeer's way of asking for none, and leaving the field out: both the base model's picture.
    assert text_to_image(runners, loras="") == base
    assert text_to_image(runners, loras="{}") == base
    assert health(runners.processes["text-to-image"].url) == "IDLE"


def test_image_to_image_applies_a_lora_for_its_models_base(runners):
    url = f"{runners.url('image-to-image')}/image-to-image"
    fields = {"prompt": "make it blue", "num_inference_steps": "4", "strength": "0.5", "seed": "3"}

    def post(**extra: str) -> str:
        return first_image(HTTP.post(url, data={**fields, **extra}, files={"image": ("in.png", png())}, timeout=120))

    base = post()
    assert post(loras=json.dumps({"livepeer-ai/tiny-sd15-lora": 1.0})) != base
    assert post() == base
