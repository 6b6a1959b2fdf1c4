"""The gateway's side of receipts: check every output's receipt as a stage result arrives, keep it.

A stage result from an orchestrator must carry one receipt per output
(`payments.receipts.output_media`, same order), each signed by the address the
node advertises in its /info, for the job id and parameters the gateway sent, on
the gateway's chain. Anything less is the node's failure: dispatch retries the
stage elsewhere. Verified receipts are stored at once; the workflow adds the
saved output's path with `attach_receipt`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction

from livepeer_ai.gateway.models import Job, Receipt
from livepeer_ai.payments.receipts import (
    ReceiptInvalid,
    VerifiedReceipt,
    output_media,
    sha256_of_chunks,
    verify_receipt,
)


@dataclass(frozen=True)
class OutputReceipt:
    kind: str  # "image", "gif", "mp4" or "audio"
    verified: VerifiedReceipt


def verify_stage_receipts(
    result: dict[str, Any],
    orchestrator_address: str,
    *,
    job_id: str | None = None,
    model_id: str | None = None,
    parameters_hash: str | None = None,
    chain_id: int | None = None,
) -> list[OutputReceipt]:
    """Every output's receipt, verified against the output's bytes and the expectations given.

    Raises ReceiptInvalid with the first reason found.
    """
    try:
        outputs = output_media(result)
    except ValueError as exc:
        raise ReceiptInvalid(str(exc)) from None
    documents = result.get("receipts")
    if not isinstance(documents, list) or (outputs and not documents):
        raise ReceiptInvalid("The orchestrator sent no receipts with its result.")
    if len(documents) != len(outputs):
        raise ReceiptInvalid(f"The result has {len(outputs)} output(s) but {len(documents)} receipt(s).")
    if not orchestrator_address:
        raise ReceiptInvalid("The orchestrator advertises no address in its /info, so its receipts cannot be checked.")
    checked = []
    for output, document in zip(outputs, documents, strict=True):
        verified = verify_receipt(document, output.raw)
        receipt = verified.receipt
        if receipt.orchestrator.lower() != orchestrator_address.lower():
            raise ReceiptInvalid(
                f"The {output.kind} receipt is signed by {receipt.orchestrator}, "
                f"but the orchestrator advertises {orchestrator_address}.",
                receipt,
            )
        if chain_id is not None and receipt.chain_id != chain_id:
            raise ReceiptInvalid(
                f"The receipt is for chain {receipt.chain_id}, not this network's {chain_id}.", receipt
            )
        if job_id is not None and receipt.job_id != job_id:
            raise ReceiptInvalid(f"The receipt is for job {receipt.job_id!r}, not {job_id!r}.", receipt)
        if model_id and receipt.model_id != model_id:
            raise ReceiptInvalid(f"The receipt names model {receipt.model_id!r}, not {model_id!r}.", receipt)
        if parameters_hash is not None and receipt.parameters_hash != parameters_hash:
            raise ReceiptInvalid("The receipt's parameters hash is not that of the parameters sent.", receipt)
        checked.append(OutputReceipt(output.kind, verified))
    return checked


def store_receipt(job: Job, stage: str, kind: str, path: str, document: dict[str, Any]) -> Receipt:
    """Keep a receipt document from elsewhere; it must verify."""
    return _save(job, stage, kind, path, verify_receipt(document))


def store_stage_receipts(job: Job, stage: str, receipts: list[OutputReceipt]) -> list[Receipt]:
    """Keep the receipts `verify_stage_receipts` passed, as they are: recovering a
    signature is the costly part of a receipt, and each was recovered there."""
    with transaction.atomic():
        return [_save(job, stage, r.kind, "", r.verified) for r in receipts]


def _save(job: Job, stage: str, kind: str, path: str, verified: VerifiedReceipt) -> Receipt:
    return Receipt.objects.create(
        job=job,
        stage=stage,
        kind=kind,
        path=path,
        output_sha256=verified.receipt.output_sha256,
        signer=verified.signer,
        document=verified.document,
    )


def attach_receipt(job: Job, stage: str, path: str, raw: bytes) -> Receipt | None:
    """Record where the output `raw` of `stage` was saved on its receipt; None when it has none
    (the fallback provider signs nothing)."""
    digest = hashlib.sha256(raw).hexdigest()
    with transaction.atomic():
        receipt = (
            Receipt.objects.select_for_update()
            .filter(job=job, stage=stage, output_sha256=digest, path="")
            .order_by("-created_at")
            .first()
        )
        if receipt is not None:
            receipt.path = path
            receipt.save(update_fields=["path"])
    return receipt


def verify_stored(stored: Receipt) -> VerifiedReceipt:
    """A stored receipt verified again, against its saved output when that still exists."""
    digest = None
    if stored.path and default_storage.exists(stored.path):
        with default_storage.open(stored.path) as handle:
            digest = sha256_of_chunks(handle.chunks())
    return verify_receipt(stored.document, output_sha256=digest)
