"""Jobs through an orchestrator node, in protocol order, on real runners.

The node runs in-process (uvicorn in a thread) so the payment seam can be a
recording processor; its runners are the session's real runner processes,
attached as external runners.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from PIL import Image

from livepeer_ai.orchestrator.config import Capability, ExternalRunner, NodeConfig
from livepeer_ai.orchestrator.node import Node, create_node_app
from livepeer_ai.orchestrator.payment import PaymentError, Sender
from livepeer_ai.orchestrator.supervisor import Supervisor
from livepeer_ai.payments.receipts import (
    JOB_ID_HEADER,
    output_media,
    parameters_hash,
    request_parameters,
    verify_receipt,
)
from livepeer_ai.runner.app import RUNNER_VERSION
from tests.conftest import HTTP, health, serve, wait_for

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CHAIN_ID = 31337
T2I_REVISION = "sha256:" + "5e" * 32
T2I = "livepeer-ai/tiny-sdxl-turbo"
I2V = "livepeer-ai/tiny-svd-xt"


@dataclass
class RecordingPayments:
    """The payment seam, recording what the node asked of it."""

    reject_credentials: bool = False
    reject_payments: int = 0
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def check_credentials(self, request: Any) -> Sender:
        self.calls.append(("credentials", None))
        if self.reject_credentials:
            raise PaymentError(402, "Could not decode payment")
        return Sender(address="0xgateway")

    def process_payment(self, sender: Sender, fee_wei: int, manifest: str) -> None:
        self.calls.append(("process", fee_wei))
        if self.reject_payments:
            self.reject_payments -= 1
            raise PaymentError(400, "ticket invalid")

    def debit(self, sender: Sender, fee_wei: int, manifest: str) -> None:
        self.calls.append(("debit", fee_wei))

    def ticket_params(self, sender: str, price_per_unit: int, pixels_per_unit: int, manifest: str) -> None:
        return None

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


@pytest.fixture
def payments() -> RecordingPayments:
    return RecordingPayments()


@pytest.fixture
def node_url(runners: Any, payments: RecordingPayments, tmp_path: Any) -> Iterator[str]:
    config = NodeConfig(
        service_uri="http://node.test",
        host="127.0.0.1",
        port=1,
        private_key_env="UNUSED",
        health_interval_s=0.5,
        capabilities=(
            Capability(
                "text-to-image",
                T2I,
                warm=True,
                price_per_unit=3,
                pixels_per_unit=2,
                external=(ExternalRunner(runners.url("text-to-image")),),
            ),
            Capability(
                "image-to-video",
                I2V,
                warm=True,
                price_per_unit=1,
                pixels_per_unit=1,
                external=(ExternalRunner(runners.url("image-to-video")),),
            ),
        ),
    )
    node = Node(
        config,
        Account.from_key(KEY),
        Supervisor(config, {}, tmp_path / "logs"),
        payments,
        chain_id=CHAIN_ID,
        model_revisions={("text-to-image", T2I): T2I_REVISION},
    )
    with serve(create_node_app(node)) as url:
        wait_for(lambda: all(c["capacity"] == 1 for c in info(url)["capabilities"]), 30, "node runners ready")
        yield url


def info(url: str) -> dict[str, Any]:
    return dict(HTTP.get(f"{url}/info", timeout=5).json())


def capability(url: str, pipeline: str) -> dict[str, Any]:
    return next(c for c in info(url)["capabilities"] if c["pipeline"] == pipeline)


def small_t2i(**overrides: Any) -> dict[str, Any]:
    return {"prompt": "node", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1, **overrides}


def test_info_advertises_capabilities_prices_and_capacity(node_url):
    described = info(node_url)
    assert described["address"] == ADDRESS
    assert described["service_uri"] == "http://node.test"
    t2i = capability(node_url, "text-to-image")
    assert (t2i["model_id"], t2i["warm"], t2i["capacity"], t2i["in_use"]) == (T2I, True, 1, 0)
    assert (t2i["price_per_unit"], t2i["pixels_per_unit"]) == (3, 2)
    assert t2i["runners"][0]["external"] is True


def test_completed_job_is_paid_then_debited_its_fee(node_url, payments):
    response = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["images"][0]["seed"] == 1
    fee = 64 * 64 * 3 // 2
    assert [k for k, _ in payments.calls] == ["credentials", "process", "debit"]
    assert payments.calls[1] == ("process", fee) and payments.calls[2] == ("debit", fee)
    stats = capability(node_url, "text-to-image")["stats"]
    assert (stats["served"], stats["units"], stats["fees_wei"]) == (1, 4096, fee)


def test_busy_node_answers_503_before_any_payment(node_url, payments, runners):
    long_job = small_t2i(width=512, height=512, num_inference_steps=150)
    with HTTP.stream(
        "POST", f"{node_url}/text-to-image", json=long_job, headers={"Accept": "text/event-stream"}, timeout=120
    ) as stream:
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event: ")) == "event: progress"
        assert capability(node_url, "text-to-image")["in_use"] == 1
        refused = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), timeout=30)
        assert refused.status_code == 503
        assert refused.json() == {"detail": {"msg": "insufficient capacity"}}
        # Only the running job reached payment; the refused one never did.
        assert payments.count("process") == 1
        assert payments.count("credentials") == 2
    # Leaving the stream canceled the runner's job: no debit, slot free again.
    wait_for(lambda: health(runners.processes["text-to-image"].url) == "IDLE", 30, "runner to stop")
    wait_for(lambda: capability(node_url, "text-to-image")["in_use"] == 0, 10, "slot released")
    stats = capability(node_url, "text-to-image")["stats"]
    assert stats["insufficient_capacity"] == 1
    assert stats["failed"] == {"canceled": 1}
    assert payments.count("debit") == 0


def test_streamed_job_passes_every_step_through(node_url, payments):
    events = []
    with HTTP.stream(
        "POST",
        f"{node_url}/text-to-image",
        json=small_t2i(num_inference_steps=4),
        headers={"Accept": "text/event-stream"},
        timeout=60,
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    assert [body["step"] for kind, body in events if kind == "progress"] == [1, 2, 3, 4]
    assert events[-1][0] == "result"
    assert payments.count("debit") == 1


def test_runner_rejection_passes_through_and_costs_nothing(node_url, payments):
    response = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(width=60), timeout=30)
    assert response.status_code == 400
    assert "multiple of 8" in response.json()["detail"]["msg"]
    assert payments.count("debit") == 0
    t2i = capability(node_url, "text-to-image")
    assert t2i["stats"]["failed"] == {"400": 1}
    assert t2i["in_use"] == 0


def test_refused_payment_frees_the_slot(node_url, payments):
    payments.reject_payments = 1
    refused = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), timeout=30)
    assert refused.status_code == 400
    assert refused.json()["detail"]["msg"] == "ticket invalid"
    assert capability(node_url, "text-to-image")["in_use"] == 0
    assert HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), timeout=60).status_code == 200


def test_bad_credentials_are_402_and_reserve_nothing(node_url, payments):
    payments.reject_credentials = True
    response = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), timeout=30)
    assert response.status_code == 402
    assert payments.count("process") == 0
    assert capability(node_url, "text-to-image")["stats"]["insufficient_capacity"] == 0


def test_model_the_node_does_not_serve_is_refused(node_url, payments):
    response = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(model_id="someone/else"), timeout=30)
    assert response.status_code == 400
    assert "does not serve" in response.json()["detail"]["msg"]
    assert payments.count("process") == 0


def test_multipart_job_bills_image_to_video_as_25_frames(node_url, payments):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 20, 200)).save(buffer, format="PNG")
    response = HTTP.post(
        f"{node_url}/image-to-video",
        data={"width": "64", "height": "64", "num_inference_steps": "2", "seed": "3"},
        files={"image": ("in.png", buffer.getvalue(), "image/png")},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["frames"][0]) == 8
    assert payments.calls[-1] == ("debit", 64 * 64 * 25)


def test_slot_of_a_canceled_job_is_held_until_the_runner_has_stopped(node_url, runners):
    long_job = small_t2i(width=512, height=512, num_inference_steps=150)
    with HTTP.stream(
        "POST", f"{node_url}/text-to-image", json=long_job, headers={"Accept": "text/event-stream"}, timeout=120
    ) as stream:
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event: ")) == "event: progress"
    # Straight after the disconnect the runner may still be finishing its step: the
    # node must answer for itself (no capacity) or run the job, never hand it to a busy runner.
    response = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), timeout=60)
    assert response.status_code in {200, 503}, response.text
    if response.status_code == 503:
        assert response.json() == {"detail": {"msg": "insufficient capacity"}}
    wait_for(lambda: capability(node_url, "text-to-image")["in_use"] == 0, 30, "slot released")
    assert health(runners.processes["text-to-image"].url) == "IDLE"


def verified_outputs(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """Each output's kind and its receipt, verified against the output's real bytes."""
    outputs = output_media(result)
    assert len(result["receipts"]) == len(outputs) > 0
    return [(o.kind, verify_receipt(doc, o.raw)) for o, doc in zip(outputs, result["receipts"], strict=True)]


def test_result_carries_a_receipt_per_output_signed_by_the_node(node_url):
    job_id = f"{uuid.uuid4()}:text-to-image"
    body = small_t2i(num_images_per_prompt=2)
    response = HTTP.post(f"{node_url}/text-to-image", json=body, headers={JOB_ID_HEADER: job_id}, timeout=60)
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["images"]) == 2 and {"url", "seed", "nsfw"} <= set(result["images"][0])
    receipts = verified_outputs(result)
    assert [kind for kind, _ in receipts] == ["image", "image"]
    for _, verified in receipts:
        receipt = verified.receipt
        assert verified.signer == ADDRESS == receipt.orchestrator
        assert (receipt.job_id, receipt.chain_id, receipt.units) == (job_id, CHAIN_ID, 64 * 64 * 2)
        assert (receipt.model_id, receipt.model_revision) == (T2I, T2I_REVISION)
        assert receipt.runner_version == RUNNER_VERSION
        assert receipt.parameters_hash == parameters_hash(body)
    assert receipts[0][1].receipt.output_sha256 != receipts[1][1].receipt.output_sha256


def test_streamed_result_carries_receipts_too(node_url):
    result = None
    with HTTP.stream(
        "POST",
        f"{node_url}/text-to-image",
        json=small_t2i(),
        headers={"Accept": "text/event-stream", JOB_ID_HEADER: "job-7:text-to-image"},
        timeout=60,
    ) as stream:
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "result":
                result = json.loads(line[6:])
    assert result is not None
    ((_, verified),) = verified_outputs(result)
    assert verified.receipt.job_id == "job-7:text-to-image"


def test_job_id_is_generated_when_the_caller_sends_none(node_url):
    response = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), timeout=60)
    ((_, verified),) = verified_outputs(response.json())
    assert uuid.UUID(verified.receipt.job_id).version == 4


def test_unusable_job_id_is_refused_before_payment(node_url, payments):
    response = HTTP.post(f"{node_url}/text-to-image", json=small_t2i(), headers={JOB_ID_HEADER: "a b"}, timeout=30)
    assert response.status_code == 400
    assert JOB_ID_HEADER in response.json()["detail"]["msg"]
    assert payments.count("process") == 0


def test_video_receipts_cover_the_gif_and_mp4_and_bind_the_input(node_url):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 90, 200)).save(buffer, format="PNG")
    form = {"width": "64", "height": "64", "num_inference_steps": "2", "seed": "3"}
    response = HTTP.post(
        f"{node_url}/image-to-video",
        data=form,
        files={"image": ("in.png", buffer.getvalue(), "image/png")},
        headers={JOB_ID_HEADER: "job-8:image-to-video"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["frames"][0]) == 8  # the runner's body is passed on unchanged
    receipts = verified_outputs(result)
    assert [kind for kind, _ in receipts] == ["gif", "mp4"]
    expected = parameters_hash(request_parameters(form, {"image": buffer.getvalue()}))
    for _, verified in receipts:
        assert verified.signer == ADDRESS
        assert verified.receipt.parameters_hash == expected
        assert verified.receipt.units == 64 * 64 * 25
        # No registry folder for this model on this node: nothing to pin the weights to.
        assert verified.receipt.model_revision == "unpinned"
