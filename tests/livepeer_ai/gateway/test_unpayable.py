"""A request this gateway could never pay for is refused before it is accepted, at the API and in the studio.

Nodes here are rows with a stored /info (what the engine's refresh writes), with
the prices they advertise; nothing is asked of the chain before a job exists.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from livepeer_ai.gateway.models import ApiKey, Job, Orchestrator
from livepeer_ai.orchestrator.payment import manifest_id
from livepeer_ai.payments.models import OrchestratorCredit
from studio.creation import start_generation
from studio.refusals import Refused

I2V = ("image-to-video", "livepeer-ai/tiny-svd-xt")
T2I = ("text-to-image", "livepeer-ai/tiny-sdxl-turbo")
# The demo's price: wei per pixel.
DEMO_PRICE = 4_768_371
MAX_TOTAL_EV = 20_000_000_000_000
# image-to-video's defaults, 1024 × 576, billed for 25 frames at the demo's price: 70 T wei, over 20 T wei.
DEFAULT_I2V_FEE = 1024 * 576 * 25 * DEMO_PRICE


def offering(uri: str, price: int, capabilities: tuple[tuple[str, str], ...] = (I2V,)) -> Orchestrator:
    return Orchestrator.objects.create(
        service_uri=uri,
        address="0x" + uri[-1] * 40,
        info={
            "capabilities": [
                {"pipeline": p, "model_id": m, "capacity": 1, "price_per_unit": price, "pixels_per_unit": 1}
                for p, m in capabilities
            ]
        },
        info_fetched_at=timezone.now(),
        reachable=True,
    )


@pytest.fixture
def on_chain(settings: Any, approved_models: Any, tmp_path: Any) -> Any:
    # The gateway pays with tickets; submission itself never calls the chain.
    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:9"
    settings.MAX_TOTAL_EV = MAX_TOTAL_EV
    settings.MAX_PRICE_PER_UNIT = 0
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


def submit_video(client: Any, key: str, **fields: str) -> Any:
    image = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(image, format="PNG")
    image.seek(0)
    image.name = "in.png"
    return client.post(
        "/api/v1/image-to-video",
        {"image": image, **fields},
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_PREFER="respond-async",
    )


@pytest.mark.django_db
def test_the_default_image_to_video_request_is_refused_with_the_reason_and_no_job(client, on_chain):
    offering("http://a", DEMO_PRICE)
    key = ApiKey.issue("video")[1]
    response = submit_video(client, key)
    assert response.status_code == 402
    message = response.json()["detail"]["msg"]
    assert f"costs {DEFAULT_I2V_FEE} wei" in message and f"at most {MAX_TOTAL_EV} wei" in message
    assert not Job.objects.exists()
    # A size the limit covers is accepted and queued.
    assert submit_video(client, key, width="256", height="256").status_code == 202
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_the_cheapest_offer_decides(client, on_chain):
    offering("http://a", DEMO_PRICE)
    offering("http://b", 1)
    assert submit_video(client, ApiKey.issue("video")[1]).status_code == 202


@pytest.mark.django_db
def test_credit_already_at_the_node_counts_towards_the_limit(client, on_chain):
    node = offering("http://a", DEMO_PRICE)
    OrchestratorCredit.objects.create(
        sender="0xG", recipient=node.address, manifest_id=manifest_id(*I2V), balance=DEFAULT_I2V_FEE - MAX_TOTAL_EV
    )
    assert submit_video(client, ApiKey.issue("video")[1]).status_code == 202


@pytest.mark.django_db
def test_off_chain_nothing_is_paid_so_nothing_is_refused(client, on_chain):
    on_chain.WEB3_PROVIDER_URI = ""
    offering("http://a", DEMO_PRICE)
    assert submit_video(client, ApiKey.issue("video")[1]).status_code == 202


@pytest.mark.django_db
def test_the_studio_refuses_a_gif_whose_video_stage_could_never_be_paid(on_chain, personas):
    offering("http://a", DEMO_PRICE * 1000, capabilities=(T2I, I2V))
    choices = {"prompt": "a fox", "style": "", "text_to_image_steps": 6, "image_to_video_steps": 12}
    with pytest.raises(Refused) as refused:
        start_generation(personas.member, choices)
    assert refused.value.status == 402
    assert "image-to-video" in refused.value.message or "text-to-image" in refused.value.message
    assert "cannot pay" in refused.value.message
    assert not Job.objects.exists()
    offering("http://b", 1, capabilities=(T2I, I2V))
    assert start_generation(personas.member, choices).job.stages == ["text-to-image", "image-to-video"]
