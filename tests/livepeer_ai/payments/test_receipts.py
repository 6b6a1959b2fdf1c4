"""Output receipts: signing, verification, the verify_receipt command and the public pages."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from eth_account import Account
from eth_account.messages import encode_typed_data

from livepeer_ai.gateway.models import Job
from livepeer_ai.gateway.receipts import store_receipt
from livepeer_ai.payments.receipts import (
    Receipt,
    ReceiptInvalid,
    ReceiptMalformed,
    document_from_json,
    document_to_json,
    model_revision,
    output_media,
    parameters_hash,
    receipt_document,
    request_parameters,
    sign_receipt,
    signed_document,
    verify_receipt,
)
from tests.conftest import PYTHON, ROOT

# anvil's accounts #1 and #2: the orchestrator, and someone else.
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
OTHER_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OUTPUT = b"\x89PNG\r\n\x1a\n pretend this is a picture"
PARAMS = {"prompt": "a robot", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1}


def make_receipt(**overrides: Any) -> Receipt:
    fields: dict[str, Any] = {
        "job_id": "0b7c4e0e-2f4e-4a53-9d7e-4b8f4b1c2d3e:text-to-image",
        "output_sha256": hashlib.sha256(OUTPUT).hexdigest(),
        "model_id": "livepeer-ai/tiny-sdxl-turbo",
        "model_revision": "sha256:" + "ab" * 32,
        "runner_version": "0.1.0",
        "parameters_hash": parameters_hash(PARAMS),
        "units": 64 * 64,
        "orchestrator": ADDRESS,
        "chain_id": 31337,
    }
    return Receipt(**{**fields, **overrides})


@pytest.fixture
def document() -> dict[str, Any]:
    return signed_document(make_receipt(), KEY)


def flip_hex(value: str, index: int = -1) -> str:
    """The same string with one hex digit changed."""
    chars = list(value)
    chars[index] = "0" if chars[index] != "0" else "1"
    return "".join(chars)


# -- signing and verifying ---------------------------------------------------------------


def test_signed_receipt_verifies_against_its_output(document):
    verified = verify_receipt(document, OUTPUT)
    assert verified.signer == ADDRESS
    assert verified.receipt == make_receipt()
    assert verified.output_checked is True
    assert document["signature"].startswith("0x") and len(document["signature"]) == 132


def test_document_survives_a_json_round_trip(document):
    text = document_to_json(document)
    verified = verify_receipt(document_from_json(text), OUTPUT)
    assert verified.document == document
    assert json.loads(text)["receipt"]["units"] == 4096  # an integer, never a float


def test_without_the_output_only_the_signature_is_checked(document):
    assert verify_receipt(document).output_checked is False


ALTERED_FIELDS = {
    "job_id": "0b7c4e0e-2f4e-4a53-9d7e-4b8f4b1c2d3e:image-to-video",
    "output_sha256": flip_hex(hashlib.sha256(OUTPUT).hexdigest()),
    "model_id": "livepeer-ai/tiny-sd15",
    "model_revision": "sha256:" + "ab" * 31 + "ac",
    "runner_version": "0.1.1",
    "parameters_hash": flip_hex(parameters_hash(PARAMS), 0),
    "units": 64 * 64 + 1,
    "orchestrator": OTHER_ADDRESS,
    "chain_id": 42161,
}


def test_every_signed_field_is_covered_by_the_alteration_test():
    assert set(ALTERED_FIELDS) == set(make_receipt().as_dict())


@pytest.mark.parametrize("field", sorted(ALTERED_FIELDS))
def test_any_altered_receipt_field_fails_verification(document, field):
    altered = copy.deepcopy(document)
    altered["receipt"][field] = ALTERED_FIELDS[field]
    with pytest.raises(ReceiptInvalid) as failure:
        verify_receipt(altered)
    if field == "orchestrator":
        assert "is not the receipt's orchestrator" in str(failure.value)
    else:
        assert "not made by the claimed orchestrator" in str(failure.value)


@pytest.mark.parametrize("index", [2, 70, 131])  # in r, in s, in v
def test_an_altered_signature_fails_verification(document, index):
    altered = {**document, "signature": flip_hex(document["signature"], index)}
    with pytest.raises(ReceiptInvalid):
        verify_receipt(altered)


def test_an_altered_signer_fails_verification(document):
    with pytest.raises(ReceiptInvalid, match="is not the receipt's orchestrator"):
        verify_receipt({**document, "signer": OTHER_ADDRESS})


def test_a_signer_claimed_by_both_fields_but_signed_by_another_key_fails(document):
    altered = copy.deepcopy(document)
    altered["receipt"]["orchestrator"] = altered["signer"] = OTHER_ADDRESS
    with pytest.raises(ReceiptInvalid, match=f"not made by the claimed orchestrator {OTHER_ADDRESS}"):
        verify_receipt(altered)


def test_a_signature_by_the_wrong_key_fails():
    receipt = make_receipt()
    forged = Account.sign_message(encode_typed_data(full_message=receipt.typed_data()), OTHER_KEY)
    document = receipt_document(receipt, "0x" + bytes(forged.signature).hex())
    with pytest.raises(ReceiptInvalid, match=f"not made by the claimed orchestrator {ADDRESS}"):
        verify_receipt(document)


def test_signing_refuses_a_key_that_is_not_the_receipts_orchestrator():
    with pytest.raises(ValueError, match="not the receipt's orchestrator"):
        sign_receipt(make_receipt(), OTHER_KEY)


def test_the_high_s_twin_of_a_valid_signature_is_refused(document):
    # (r, n - s, v ^ 1) recovers to the same key; accepting it would let anyone alter the document.
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    raw = bytes.fromhex(document["signature"][2:])
    twin = raw[:32] + (n - int.from_bytes(raw[32:64], "big")).to_bytes(32, "big") + bytes([55 - raw[64]])
    with pytest.raises(ReceiptInvalid, match="canonical form"):
        verify_receipt({**document, "signature": "0x" + twin.hex()})


def test_wrong_output_bytes_fail(document):
    with pytest.raises(ReceiptInvalid, match="not the output the receipt is for"):
        verify_receipt(document, OUTPUT + b"\x00")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: [d], "must be a JSON object"),
        (lambda d: {k: v for k, v in d.items() if k != "signature"}, "lacks signature"),
        (lambda d: {**d, "comment": "hi"}, "unknown key"),
        (lambda d: {**d, "receipt": "x"}, "must be a JSON object of the signed fields"),
        (lambda d: {**d, "receipt": {k: v for k, v in d["receipt"].items() if k != "units"}}, "lacks field"),
        (lambda d: {**d, "receipt": {**d["receipt"], "extra": 1}}, "unknown field"),
        (lambda d: {**d, "receipt": {**d["receipt"], "units": "4096"}}, "'units' must be an integer"),
        (lambda d: {**d, "receipt": {**d["receipt"], "units": 4096.0}}, "'units' must be an integer"),
        (lambda d: {**d, "receipt": {**d["receipt"], "units": True}}, "'units' must be an integer"),
        (lambda d: {**d, "receipt": {**d["receipt"], "units": -1}}, "'units' must be an integer"),
        (lambda d: {**d, "receipt": {**d["receipt"], "chain_id": 0}}, "'chain_id' must be an integer"),
        (lambda d: {**d, "receipt": {**d["receipt"], "job_id": ""}}, "'job_id' must be a non-empty string"),
        (
            lambda d: {**d, "receipt": {**d["receipt"], "output_sha256": d["receipt"]["output_sha256"].upper()}},
            "64 lowercase hex",
        ),
        (lambda d: {**d, "receipt": {**d["receipt"], "orchestrator": ADDRESS.lower()}}, "EIP-55"),
        (lambda d: {**d, "signature": d["signature"][:-2]}, "130 lowercase hex"),
        (lambda d: {**d, "signer": "me"}, "'signer' must be an Ethereum address"),
    ],
)
def test_malformed_documents_are_refused_with_the_reason(document, change, reason):
    with pytest.raises(ReceiptMalformed, match=reason):
        verify_receipt(change(document))


@pytest.mark.parametrize("text", ["not json", "[1, 2]", "x" * 70_000])
def test_unreadable_json_is_malformed(text):
    with pytest.raises(ReceiptMalformed):
        document_from_json(text)


# -- what is hashed ----------------------------------------------------------------------


def test_parameters_hash_is_sha256_of_canonical_json():
    assert parameters_hash({"b": "é", "a": 1}) == hashlib.sha256('{"a":1,"b":"é"}'.encode()).hexdigest()
    assert parameters_hash({"a": 1, "b": "é"}) == parameters_hash({"b": "é", "a": 1})
    assert parameters_hash({"a": 1}) != parameters_hash({"a": "1"})


def test_an_upload_is_hashed_into_the_parameters_by_its_bytes():
    params = request_parameters({"width": "64"}, {"image": b"png bytes"})
    assert params == {"width": "64", "image": "sha256:" + hashlib.sha256(b"png bytes").hexdigest()}


def test_outputs_are_the_images_then_the_gif_and_mp4():
    def url(raw: bytes, mime: str) -> dict[str, str]:
        return {"url": f"data:{mime};base64,{base64.b64encode(raw).decode()}"}

    result = {
        "images": [url(b"one", "image/png"), url(b"two", "image/png")],
        "frames": [[url(b"frame", "image/png")]],
        "gif": url(b"gif", "image/gif"),
        "mp4": url(b"mp4", "video/mp4"),
    }
    assert [(o.kind, o.raw) for o in output_media(result)] == [
        ("image", b"one"),
        ("image", b"two"),
        ("gif", b"gif"),
        ("mp4", b"mp4"),
    ]
    with pytest.raises(ValueError, match="not a base64 data URL"):
        output_media({"images": [{"url": "https://example.com/a.png"}]})


def test_model_revision_follows_the_folders_content(tmp_path):
    model = tmp_path / "model"
    (model / "unet").mkdir(parents=True)
    (model / "model_index.json").write_text("{}")
    (model / "unet" / "weights.bin").write_bytes(b"weights")
    first = model_revision(str(model))
    assert first.startswith("sha256:") and first == model_revision(str(model))
    (model / "unet" / "weights.bin").write_bytes(b"weightz")
    assert model_revision(str(model)) != first
    assert model_revision("") == "unpinned"
    assert model_revision(str(tmp_path / "missing")) == "unpinned"
    snapshot = tmp_path / "models--org--name" / "snapshots" / ("c0ffee" + "0" * 34)
    snapshot.mkdir(parents=True)
    assert model_revision(str(snapshot)) == "c0ffee" + "0" * 34


# -- manage.py verify_receipt --------------------------------------------------------------


@pytest.fixture
def receipt_files(tmp_path: Path, document: dict[str, Any]) -> tuple[Path, Path]:
    receipt_path, output_path = tmp_path / "receipt.json", tmp_path / "image.png"
    receipt_path.write_text(document_to_json(document))
    output_path.write_bytes(OUTPUT)
    return receipt_path, output_path


def test_command_accepts_a_valid_receipt_and_its_output(receipt_files, capsys):
    receipt_path, output_path = receipt_files
    call_command("verify_receipt", str(receipt_path), "--output", str(output_path))
    out = capsys.readouterr().out
    assert f"VALID: signed by orchestrator {ADDRESS}" in out
    assert f"matches {output_path}" in out


def test_command_refuses_the_wrong_output(receipt_files, tmp_path):
    receipt_path, _ = receipt_files
    other = tmp_path / "other.png"
    other.write_bytes(b"another picture")
    with pytest.raises(CommandError, match="INVALID: The output's SHA-256") as failure:
        call_command("verify_receipt", str(receipt_path), "--output", str(other))
    assert failure.value.returncode == 1


def test_command_refuses_malformed_and_missing_files(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"receipt": {}}')
    with pytest.raises(CommandError, match="MALFORMED") as failure:
        call_command("verify_receipt", str(broken))
    assert failure.value.returncode == 2
    with pytest.raises(CommandError, match="Cannot read") as failure:
        call_command("verify_receipt", str(tmp_path / "nope.json"))
    assert failure.value.returncode == 2


@pytest.mark.integration
def test_command_exit_codes_from_the_shell(receipt_files, document, tmp_path):
    receipt_path, output_path = receipt_files
    altered = copy.deepcopy(document)
    altered["receipt"]["units"] += 1
    altered_path = tmp_path / "altered.json"
    altered_path.write_text(json.dumps(altered))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [PYTHON, "manage.py", "verify_receipt", *args]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)

    valid = run(str(receipt_path), "--output", str(output_path))
    assert valid.returncode == 0, valid.stderr
    assert "VALID" in valid.stdout
    invalid = run(str(altered_path), "--output", str(output_path))
    assert invalid.returncode == 1
    assert "not made by the claimed orchestrator" in invalid.stderr


# -- the public pages (an anonymous visitor) -----------------------------------------------


@pytest.mark.django_db
def test_verify_page_shows_the_form(client):
    response = client.get("/receipts/verify/")
    assert response.status_code == 200
    assert b'name="receipt"' in response.content and b'name="output"' in response.content
    assert b"https://" not in response.content.split(b"<body")[0]


@pytest.mark.django_db
def test_verify_page_accepts_a_pasted_receipt_with_its_output(client, document):
    response = client.post(
        "/receipts/verify/",
        {"receipt": document_to_json(document), "output": SimpleUploadedFile("image.png", OUTPUT)},
    )
    assert response.status_code == 200
    assert b"Valid receipt" in response.content
    assert b"is the one it was signed for" in response.content
    assert hashlib.sha256(OUTPUT).hexdigest().encode() in response.content


@pytest.mark.django_db
def test_verify_page_accepts_an_uploaded_receipt_file(client, document):
    upload = SimpleUploadedFile("receipt.json", document_to_json(document).encode(), "application/json")
    response = client.post("/receipts/verify/", {"receipt_file": upload})
    assert response.status_code == 200
    assert b"Valid receipt" in response.content
    assert b"only the signature was checked" in response.content


@pytest.mark.django_db
def test_verify_page_says_why_a_receipt_is_invalid(client, document):
    response = client.post(
        "/receipts/verify/",
        {"receipt": json.dumps(document), "output": SimpleUploadedFile("image.png", b"something else")},
    )
    assert response.status_code == 200
    assert b"Invalid receipt" in response.content
    assert b"not the output the receipt is for" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, b"Paste the receipt JSON"),
        ({"receipt": "{not json"}, b"not valid JSON"),
        ({"receipt": '{"receipt": {}, "signature": "0x", "signer": "0x"}'}, b"The receipt lacks field"),
    ],
)
def test_verify_page_refuses_bad_input_with_400(client, form, message):
    response = client.post("/receipts/verify/", form)
    assert response.status_code == 400
    assert message in response.content


@pytest.fixture
def stored_receipt(settings: Any, tmp_path: Path, document: dict[str, Any], personas: Any, client: Any) -> Any:
    """A receipt of a member's job, and the client signed in as that member (others may not see it)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    job = Job.objects.create(prompt="a robot", stages=["text-to-image"], owner=personas.member)
    client.force_login(personas.member)
    path = default_storage.save(f"jobs/{job.id}/image.png", ContentFile(OUTPUT))
    return store_receipt(job, "text-to-image", "image", path, document)


@pytest.mark.django_db
def test_stored_receipt_page_shows_it_valid_with_a_download_link(client, stored_receipt, document):
    response = client.get(stored_receipt.get_absolute_url())
    assert response.status_code == 200
    assert b"Valid: signed by orchestrator" in response.content
    assert b"the stored output still matches it" in response.content
    json_url = f"/receipts/{stored_receipt.id}/receipt.json"
    assert json_url.encode() in response.content
    download = client.get(json_url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert verify_receipt(json.loads(download.content), OUTPUT).document == document


@pytest.mark.django_db
def test_stored_receipt_page_notices_a_replaced_output(client, stored_receipt):
    with default_storage.open(stored_receipt.path, "wb") as handle:
        handle.write(b"swapped")
    response = client.get(stored_receipt.get_absolute_url())
    assert response.status_code == 200
    assert b"Invalid: The output&#x27;s SHA-256" in response.content


@pytest.mark.django_db
def test_unknown_receipt_is_404(client):
    assert client.get("/receipts/00000000-0000-4000-8000-000000000000/").status_code == 404
    assert client.get("/receipts/not-a-uuid/").status_code == 404
