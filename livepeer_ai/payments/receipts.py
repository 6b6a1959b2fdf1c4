"""Output receipts: what an orchestrator signs for every output it returns (docs/architecture.md, "The life of a job", step 7).

A receipt says: for job `job_id`, orchestrator `orchestrator` produced the output
whose SHA-256 is `output_sha256`, with model `model_id` at `model_revision`, on
runner `runner_version`, from the request parameters whose canonical hash is
`parameters_hash`, billing `units` pixels (docs/protocol.md §2.4). It is EIP-712 typed
data signed with the node's Ethereum key, so anyone holding an output and its
receipt can check both offline, without trusting the gateway.

Decisions:
- The chain id sits in the EIP-712 domain, where EIP-712 puts replay protection:
  a receipt made for one network never verifies as one for another. The
  orchestrator's address sits in the struct, so the signed fields themselves
  name who vouches for them; a verifier needs nothing but the document.
- `parameters_hash` is the SHA-256 of the canonical JSON (sorted keys, no
  whitespace, UTF-8) of the request's fields as the node received them; an
  uploaded file appears under its field name as "sha256:<hex of its bytes>", so
  the receipt binds the input too. JSON bodies keep their types; multipart
  fields are the strings sent.
- `units` is the whole request's billed units, repeated on each output's receipt.
- `model_revision` is a Hugging Face snapshot commit when the weights live in a
  hub cache snapshot, else "sha256:" + the hash of the folder's `sha256sum`
  manifest (see `model_revision`), else "unpinned" when the node cannot see the
  weights (no registry entry or no local folder). It is the node's claim, like
  everything it signs: a receipt proves who vouched, not what ran.
- One receipt per output media item: every image of "images", the "gif" and
  "mp4" of a video response, and the "audio" (WAV) of a speech response, in that
  order (`output_media`). Video "frames" are not receipted: the GIF and MP4 are the
  deliverables.

Document (JSON): {"receipt": {field: value, …}, "signature": "0x…", "signer": "0x…"}.
Every field must be in canonical form (lowercase hex hashes, EIP-55 addresses,
integers as JSON integers, a low-s signature with v 27/28), so a receipt with
any single character altered fails verification.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_checksum_address

from livepeer_ai import json_input
from livepeer_ai.pipelines.media import parse_data_url

# The gateway names the job (its job id and stage) in this request header; the
# node signs it as the receipt's job id, or a fresh uuid4 when it is absent.
JOB_ID_HEADER = "Livepeer-Job-Id"
UNPINNED = "unpinned"
DOMAIN_NAME = "livepeer-ai receipt"
DOMAIN_VERSION = "1"
MAX_TEXT = 500
MAX_DOCUMENT_BYTES = 64 * 1024
# Half the secp256k1 group order: a signature with a larger s has a twin with
# n - s that recovers to the same key (EIP-2), so only the low one is accepted.
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0

EIP712_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    "Receipt": [
        {"name": "jobId", "type": "string"},
        {"name": "outputSha256", "type": "bytes32"},
        {"name": "modelId", "type": "string"},
        {"name": "modelRevision", "type": "string"},
        {"name": "runnerVersion", "type": "string"},
        {"name": "parametersHash", "type": "bytes32"},
        {"name": "units", "type": "uint256"},
        {"name": "orchestrator", "type": "address"},
    ],
}

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SIGNATURE_HEX = re.compile(r"0x[0-9a-f]{130}")


class ReceiptInvalid(ValueError):
    """A receipt that does not verify; `str()` is the reason in plain words.

    `receipt` holds the parsed fields when the document got that far, so a page
    can show what was claimed beside why it fails.
    """

    def __init__(self, reason: str, receipt: Receipt | None = None) -> None:
        super().__init__(reason)
        self.receipt = receipt


class ReceiptMalformed(ReceiptInvalid):
    """The document is not a receipt at all: unreadable, or a field missing, extra or of the wrong form."""


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ReceiptMalformed(f"Field {name!r} must be a non-empty string.")
    if len(value) > MAX_TEXT:
        raise ReceiptMalformed(f"Field {name!r} is longer than {MAX_TEXT} characters.")
    return value


def _sha256_hex(name: str, value: Any) -> str:
    if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
        raise ReceiptMalformed(f"Field {name!r} must be a SHA-256 as 64 lowercase hex digits.")
    return value


def _uint(name: str, value: Any, minimum: int) -> int:
    # bool is an int in Python but not in a receipt; floats never count units.
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**256:
        raise ReceiptMalformed(f"Field {name!r} must be an integer of at least {minimum}.")
    return value


def _address(name: str, value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value) or not is_checksum_address(value):
        raise ReceiptMalformed(f"Field {name!r} must be an Ethereum address in EIP-55 checksum form.")
    return value


@dataclass(frozen=True)
class Receipt:
    job_id: str
    output_sha256: str
    model_id: str
    model_revision: str
    runner_version: str
    parameters_hash: str
    units: int
    orchestrator: str
    chain_id: int

    def __post_init__(self) -> None:
        for name in ("job_id", "model_id", "model_revision", "runner_version"):
            _text(name, getattr(self, name))
        _sha256_hex("output_sha256", self.output_sha256)
        _sha256_hex("parameters_hash", self.parameters_hash)
        _uint("units", self.units, 0)
        _uint("chain_id", self.chain_id, 1)
        _address("orchestrator", self.orchestrator)

    @classmethod
    def from_dict(cls, raw: Any) -> Receipt:
        if not isinstance(raw, dict):
            raise ReceiptMalformed('"receipt" must be a JSON object of the signed fields.')
        expected = [f.name for f in fields(cls)]
        missing = [name for name in expected if name not in raw]
        extra = sorted(set(raw) - set(expected))
        if missing:
            raise ReceiptMalformed(f"The receipt lacks field(s): {', '.join(missing)}.")
        if extra:
            raise ReceiptMalformed(f"The receipt has unknown field(s): {', '.join(extra)}.")
        return cls(**{name: raw[name] for name in expected})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def typed_data(self) -> dict[str, Any]:
        """The EIP-712 full message (eth-account's `encode_typed_data(full_message=…)` form)."""
        return {
            "types": EIP712_TYPES,
            "primaryType": "Receipt",
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": self.chain_id},
            "message": {
                "jobId": self.job_id,
                "outputSha256": bytes.fromhex(self.output_sha256),
                "modelId": self.model_id,
                "modelRevision": self.model_revision,
                "runnerVersion": self.runner_version,
                "parametersHash": bytes.fromhex(self.parameters_hash),
                "units": self.units,
                "orchestrator": self.orchestrator,
            },
        }


@dataclass(frozen=True)
class VerifiedReceipt:
    receipt: Receipt
    signature: str
    signer: str
    # False when no output was given: only the signature was checked.
    output_checked: bool

    @property
    def document(self) -> dict[str, Any]:
        return receipt_document(self.receipt, self.signature)


def sign_receipt(receipt: Receipt, private_key: Any) -> str:
    """The EIP-712 signature of `receipt` as 0x-prefixed hex (65 bytes: r, s, v)."""
    account = Account.from_key(private_key)
    if account.address != receipt.orchestrator:
        raise ValueError(f"This key is {account.address}, not the receipt's orchestrator {receipt.orchestrator}.")
    signed = Account.sign_message(encode_typed_data(full_message=receipt.typed_data()), account.key)
    return "0x" + bytes(signed.signature).hex()


def receipt_document(receipt: Receipt, signature: str) -> dict[str, Any]:
    return {"receipt": receipt.as_dict(), "signature": signature, "signer": receipt.orchestrator}


def signed_document(receipt: Receipt, private_key: Any) -> dict[str, Any]:
    return receipt_document(receipt, sign_receipt(receipt, private_key))


def document_to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def document_from_json(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ReceiptMalformed(f"A receipt is a small JSON document; this one is over {MAX_DOCUMENT_BYTES} bytes.")
    try:
        # Depth-checked: a visitor's upload, and 64 KB of `[` once crashed the web process.
        document = json_input.loads(text)
    except json_input.JsonRefused as exc:
        raise ReceiptMalformed(f"The receipt is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ReceiptMalformed('The receipt must be a JSON object with "receipt", "signature" and "signer".')
    return document


def _recover(receipt: Receipt, signature: str) -> str:
    raw = bytes.fromhex(signature[2:])
    s, v = int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (27, 28) or s > SECP256K1_HALF_N:
        raise ReceiptInvalid("Bad signature: it is not in canonical form (low s, v of 27 or 28).", receipt)
    try:
        return str(Account.recover_message(encode_typed_data(full_message=receipt.typed_data()), signature=raw))
    except Exception:  # noqa: BLE001 - eth-keys raises several types for an unusable signature
        raise ReceiptInvalid("Bad signature: it does not recover to any address.", receipt) from None


def verify_receipt(document: Any, output: bytes | None = None, *, output_sha256: str | None = None) -> VerifiedReceipt:
    """Check the signature over the fields, the signer, and the output when given.

    `output_sha256` is for callers that hashed a large output in chunks.
    Raises ReceiptInvalid (ReceiptMalformed for a document of the wrong shape).
    """
    if not isinstance(document, dict):
        raise ReceiptMalformed('The receipt must be a JSON object with "receipt", "signature" and "signer".')
    extra = sorted(set(document) - {"receipt", "signature", "signer"})
    missing = [key for key in ("receipt", "signature", "signer") if key not in document]
    if missing or extra:
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown key(s) {', '.join(extra)}"
        raise ReceiptMalformed(f'The document {problem}; it must hold exactly "receipt", "signature" and "signer".')
    receipt = Receipt.from_dict(document["receipt"])
    signature, signer = document["signature"], document["signer"]
    if not isinstance(signature, str) or not SIGNATURE_HEX.fullmatch(signature):
        raise ReceiptMalformed('"signature" must be 0x and 130 lowercase hex digits (65 bytes).', receipt)
    try:
        _address("signer", signer)
    except ReceiptMalformed as exc:
        raise ReceiptMalformed(str(exc), receipt) from None
    if signer != receipt.orchestrator:
        raise ReceiptInvalid(f"The signer {signer} is not the receipt's orchestrator {receipt.orchestrator}.", receipt)
    recovered = _recover(receipt, signature)
    if recovered != receipt.orchestrator:
        raise ReceiptInvalid(
            f"The signature was not made by the claimed orchestrator {receipt.orchestrator} over these fields "
            f"(it recovers to {recovered}): a field was altered, or another key signed it.",
            receipt,
        )
    if output is not None:
        output_sha256 = hashlib.sha256(output).hexdigest()
    if output_sha256 is not None and output_sha256 != receipt.output_sha256:
        raise ReceiptInvalid(
            f"The output's SHA-256 is {output_sha256} but the receipt was signed for {receipt.output_sha256}: "
            "this is not the output the receipt is for.",
            receipt,
        )
    return VerifiedReceipt(receipt, signature, signer, output_checked=output_sha256 is not None)


# -- what gets hashed ---------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def parameters_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(params))).hexdigest()


def request_parameters(fields: Mapping[str, Any], uploads: Mapping[str, bytes]) -> dict[str, Any]:
    """The request's fields with each uploaded file replaced by the SHA-256 of its bytes."""
    return {**fields, **{name: "sha256:" + hashlib.sha256(raw).hexdigest() for name, raw in uploads.items()}}


def sha256_of_chunks(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of_file(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_of_chunks(iter(lambda: handle.read(1 << 20), b""))


@dataclass(frozen=True)
class OutputMedia:
    kind: str  # "image", "gif", "mp4" or "audio"
    raw: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def output_media(result: Mapping[str, Any]) -> list[OutputMedia]:
    """The outputs of a runner API result body that get a receipt, in receipt order.

    Raises ValueError for an output that is not a base64 data URL.
    """
    found: list[OutputMedia] = []
    for image in result.get("images") or []:
        found.append(OutputMedia("image", _media_bytes(image)))
    for kind in ("gif", "mp4", "audio"):
        if result.get(kind):
            found.append(OutputMedia(kind, _media_bytes(result[kind])))
    return found


def _media_bytes(item: Any) -> bytes:
    url = item.get("url") if isinstance(item, dict) else None
    if not isinstance(url, str):
        raise ValueError("An output has no data URL.")
    try:
        return parse_data_url(url)[1]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"An output is not a base64 data URL: {exc}") from None


def model_revision(local_path: str) -> str:
    """What a receipt names as the revision of the weights in `local_path`.

    A folder inside a Hugging Face cache snapshot is named by its commit. Any other
    folder is "sha256:" + the SHA-256 of its `sha256sum` manifest, which an
    operator can reproduce with
    `cd FOLDER && find -L . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum`;
    a single file is "sha256:" + its own hash. Hashing reads every byte (about a
    second per GB), once, when the node starts.
    """
    if not local_path:
        return UNPINNED
    path = Path(local_path)
    snapshot = re.search(r"/snapshots/([0-9a-f]{40})(/|$)", path.as_posix())
    if snapshot:
        return snapshot.group(1)
    if path.is_file():
        return "sha256:" + sha256_of_file(path)
    if not path.is_dir():
        return UNPINNED
    files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
    manifest = "".join(f"{sha256_of_file(p)}  {name}\n" for name, p in files)
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
