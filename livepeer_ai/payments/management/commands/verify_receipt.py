from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from livepeer_ai.payments.receipts import (
    ReceiptInvalid,
    ReceiptMalformed,
    document_from_json,
    sha256_of_file,
    verify_receipt,
)

# Exit codes: 0 valid, 1 the receipt does not verify, 2 unreadable input.
INVALID = 1
UNREADABLE = 2


class Command(BaseCommand):
    help = "Check an output receipt (JSON) and, with --output, that the file is the output it was signed for."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "file", help='receipt document: {"receipt": {...}, "signature": "0x...", "signer": "0x..."}'
        )
        parser.add_argument("--output", help="the output file (image, GIF, MP4) the receipt should be for")

    def handle(self, *args: Any, file: str, output: str | None = None, **options: Any) -> None:
        try:
            text = Path(file).read_bytes()
            digest = sha256_of_file(Path(output)) if output else None
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename}: {exc.strerror}.", returncode=UNREADABLE) from None
        try:
            verified = verify_receipt(document_from_json(text), output_sha256=digest)
        except ReceiptMalformed as exc:
            raise CommandError(f"MALFORMED: {exc}", returncode=UNREADABLE) from None
        except ReceiptInvalid as exc:
            raise CommandError(f"INVALID: {exc}", returncode=INVALID) from None
        receipt = verified.receipt
        checked = f"matches {output}" if output else "not checked (pass --output FILE to check it)"
        self.stdout.write(f"VALID: signed by orchestrator {verified.signer} for chain {receipt.chain_id}")
        for label, value in [
            ("job", receipt.job_id),
            ("output sha256", f"{receipt.output_sha256} ({checked})"),
            ("model", f"{receipt.model_id} @ {receipt.model_revision}"),
            ("runner version", receipt.runner_version),
            ("parameters hash", receipt.parameters_hash),
            ("units", str(receipt.units)),
        ]:
            self.stdout.write(f"  {label:<16}{value}")
