"""The gateway checks every output's receipt as a stage result arrives, and keeps the good ones."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from livepeer_ai.gateway import engine, workflow
from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, Orchestrator, Receipt, StageAttempt
from livepeer_ai.gateway.receipts import attach_receipt, store_stage_receipts, verify_stage_receipts
from livepeer_ai.gateway.stage_request import StageRequest
from livepeer_ai.payments import receipts as signed_receipts
from livepeer_ai.payments.receipts import (
    Receipt as SignedFields,
)
from livepeer_ai.payments.receipts import (
    ReceiptInvalid,
    parameters_hash,
    request_parameters,
    signed_document,
    verify_receipt,
)
from tests.conftest import orchestrator_node

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
OTHER_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
JOB_ID = "0b7c4e0e-2f4e-4a53-9d7e-4b8f4b1c2d3e:image-to-video"
PARAMS_HASH = parameters_hash({"width": "64"})


def data_url(raw: bytes, mime: str) -> dict[str, str]:
    return {"url": f"data:{mime};base64,{base64.b64encode(raw).decode()}"}


def signed_result(key: str = KEY, address: str = ADDRESS, **overrides: Any) -> dict[str, Any]:
    """An image-to-video result body as a node returns it, with a receipt per output."""
    result: dict[str, Any] = {
        "frames": [[data_url(b"frame", "image/png")]],
        "gif": data_url(b"GIF89a...", "image/gif"),
        "mp4": data_url(b"....ftypisom", "video/mp4"),
    }
    fields = {
        "job_id": JOB_ID,
        "model_id": "livepeer-ai/tiny-svd-xt",
        "model_revision": "unpinned",
        "runner_version": "0.1.0",
        "parameters_hash": PARAMS_HASH,
        "units": 64 * 64 * 25,
        "orchestrator": address,
        "chain_id": 31337,
        **overrides,
    }
    result["receipts"] = [
        signed_document(SignedFields(output_sha256=hashlib.sha256(raw).hexdigest(), **fields), key)
        for raw in (b"GIF89a...", b"....ftypisom")
    ]
    return result


def expectations(**overrides: Any) -> dict[str, Any]:
    expected = {
        "job_id": JOB_ID,
        "model_id": "livepeer-ai/tiny-svd-xt",
        "parameters_hash": PARAMS_HASH,
        "chain_id": 31337,
    }
    return {**expected, **overrides}


def test_a_good_result_yields_one_verified_receipt_per_output():
    checked = verify_stage_receipts(signed_result(), ADDRESS, **expectations())
    assert [c.kind for c in checked] == ["gif", "mp4"]
    assert all(c.verified.signer == ADDRESS and c.verified.output_checked for c in checked)


@pytest.mark.parametrize(
    ("result", "address", "expected", "reason"),
    [
        ({**signed_result(), "receipts": []}, ADDRESS, {}, "sent no receipts"),
        ({k: v for k, v in signed_result().items() if k != "receipts"}, ADDRESS, {}, "sent no receipts"),
        ({**signed_result(), "receipts": signed_result()["receipts"][:1]}, ADDRESS, {}, "2 output"),
        (signed_result(OTHER_KEY, OTHER_ADDRESS), ADDRESS, {}, "but the orchestrator advertises"),
        (signed_result(), "", {}, "advertises no address"),
        (signed_result(chain_id=1), ADDRESS, {}, "for chain 1"),
        (signed_result(), ADDRESS, {"job_id": "another:image-to-video"}, "not 'another:image-to-video'"),
        (signed_result(), ADDRESS, {"model_id": "livepeer-ai/other"}, "names model"),
        (signed_result(), ADDRESS, {"parameters_hash": "0" * 64}, "parameters hash"),
        ({**signed_result(), "gif": data_url(b"GIF89a!!!", "image/gif")}, ADDRESS, {}, "not the output"),
        ({**signed_result(), "gif": {"url": "https://elsewhere/x.gif"}}, ADDRESS, {}, "not a base64 data URL"),
    ],
)
def test_a_result_without_good_receipts_is_refused(result, address, expected, reason):
    with pytest.raises(ReceiptInvalid, match=reason):
        verify_stage_receipts(result, address, **expectations(**expected))


def test_stage_request_hashes_parameters_as_the_wire_carries_them():
    form_request = StageRequest(
        "image-to-video",
        "m",
        1,
        2,
        form={"width": 64, "flag": True},
        files={"image": ("in.png", b"png", "image/png")},
    )
    sent = request_parameters({"width": "64", "flag": "true"}, {"image": b"png"})
    assert form_request.parameters_hash == parameters_hash(sent)
    json_request = StageRequest("text-to-image", "m", 1, 2, json_body={"prompt": "p", "width": 64})
    assert json_request.parameters_hash == parameters_hash({"width": 64, "prompt": "p"})


@pytest.fixture
def recovered_signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every receipt signature recovered while the test runs, each still recovered by the real function."""
    recovered: list[str] = []
    recover = signed_receipts._recover

    def recover_and_count(receipt: SignedFields, signature: str) -> str:
        recovered.append(signature)
        return recover(receipt, signature)

    monkeypatch.setattr(signed_receipts, "_recover", recover_and_count)
    return recovered


@pytest.mark.django_db
def test_each_receipt_signature_is_recovered_once_from_check_to_storage(recovered_signatures):
    result = signed_result()
    job = Job.objects.create(prompt="p", stages=["image-to-video"])
    store_stage_receipts(job, "image-to-video", verify_stage_receipts(result, ADDRESS, **expectations()))
    assert sorted(recovered_signatures) == sorted(document["signature"] for document in result["receipts"])
    assert Receipt.objects.filter(job=job).count() == 2


@pytest.mark.django_db
def test_stored_receipts_get_their_output_path_when_the_output_is_saved():
    job = Job.objects.create(prompt="p", stages=["image-to-video"])
    checked = verify_stage_receipts(signed_result(), ADDRESS, **expectations())
    stored = store_stage_receipts(job, "image-to-video", checked)
    assert [(r.kind, r.path, r.signer) for r in stored] == [("gif", "", ADDRESS), ("mp4", "", ADDRESS)]
    attached = attach_receipt(job, "image-to-video", f"jobs/{job.id}/video.mp4", b"....ftypisom")
    assert attached is not None and attached.kind == "mp4"
    assert Receipt.objects.get(pk=attached.pk).path == f"jobs/{job.id}/video.mp4"
    assert attach_receipt(job, "image-to-video", "jobs/x.gif", b"not an output it signed") is None
    assert verify_receipt(Receipt.objects.get(kind="gif").document, b"GIF89a...").signer == ADDRESS


# -- on the real network -------------------------------------------------------------------


def make_job(stages: list[str]) -> Job:
    job = workflow.create_gif_job("receipts", seed=1)
    job.parameters.update({"width": 64, "height": 64, "text_to_image_steps": 2, "image_to_video_steps": 2})
    job.stages = stages
    job.save()
    return job


@pytest.mark.django_db
def test_every_output_of_a_gif_job_has_a_verified_receipt_from_its_node(
    runners, gateway_settings, tmp_path, recovered_signatures
):
    urls = {"text-to-image": runners.url("text-to-image"), "image-to-video": runners.url("image-to-video")}
    with orchestrator_node(urls, tmp_path / "node") as node_url:
        gateway_settings.ORCHESTRATOR_URLS = [node_url]
        job = make_job(["text-to-image", "image-to-video"])
        engine.run_job(str(job.id))
    recovered_by_the_gateway = list(recovered_signatures)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    node_address = Orchestrator.objects.get(service_uri=node_url).address
    receipts = list(Receipt.objects.filter(job=job))
    assert [(r.stage, r.kind) for r in receipts] == [
        ("text-to-image", "image"),
        ("image-to-video", "gif"),
        ("image-to-video", "mp4"),
    ]
    # Checked as each stage result arrived, and only then.
    assert sorted(recovered_by_the_gateway) == sorted(r.document["signature"] for r in receipts)
    for stored in receipts:
        output = default_storage.open(job.outputs[stored.stage][stored.kind]).read()
        verified = verify_receipt(stored.document, output)
        assert verified.signer == stored.signer == node_address
        assert verified.receipt.job_id == f"{job.id}:{stored.stage}"


@pytest.fixture
def honest_and_foreign_nodes(runners: Any, gateway_settings: Any, tmp_path: Any) -> Iterator[tuple[str, str]]:
    """A node signing for this network's chain, and one signing for another chain."""
    with ExitStack() as stack:
        foreign = stack.enter_context(
            orchestrator_node({"text-to-image": runners.url("text-to-image")}, tmp_path / "foreign", chain_id=1)
        )
        honest = stack.enter_context(
            orchestrator_node({"text-to-image": runners.url("text-to-image-b")}, tmp_path / "honest")
        )
        gateway_settings.ORCHESTRATOR_URLS = [foreign, honest]
        yield foreign, honest


@pytest.mark.django_db
def test_a_node_whose_receipts_fail_is_a_failed_attempt_and_the_stage_runs_elsewhere(honest_and_foreign_nodes):
    foreign, honest = honest_and_foreign_nodes
    # The honest node sits out the first pick, so the foreign one is certainly tried first.
    Orchestrator.objects.update_or_create(
        service_uri=honest, defaults={"suspended_until": timezone.now() + timedelta(seconds=1)}
    )
    job = make_job(["text-to-image"])
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    attempts = list(StageAttempt.objects.filter(job=job).order_by("started_at"))
    assert [(a.orchestrator.service_uri, a.outcome) for a in attempts] == [
        (foreign, AttemptOutcome.FAILED),
        (honest, AttemptOutcome.SUCCEEDED),
    ]
    assert "Receipt rejected: The receipt is for chain 1" in attempts[0].message
    assert Orchestrator.objects.get(service_uri=foreign).failures_in_row == 1
    (stored,) = Receipt.objects.filter(job=job)
    assert stored.signer == Orchestrator.objects.get(service_uri=honest).address
