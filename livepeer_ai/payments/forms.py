from __future__ import annotations

from typing import Any

from django import forms

from livepeer_ai.payments.receipts import MAX_DOCUMENT_BYTES, ReceiptMalformed, document_from_json, sha256_of_chunks


class VerifyReceiptForm(forms.Form):
    receipt = forms.CharField(
        required=False,
        label="Receipt JSON",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "placeholder": '{"receipt": {…}, …}'}),
    )
    receipt_file = forms.FileField(required=False, label="…or the receipt file")
    output = forms.FileField(
        required=False,
        label="Output file",
        help_text="The image, GIF or MP4. Without it only the signature is checked.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("receipt_file")
        if upload is not None and upload.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(
                f"That receipt file is over {MAX_DOCUMENT_BYTES // 1024} KiB; a receipt is < 2 KiB."
            )
        text = upload.read() if upload is not None else cleaned.get("receipt", "").strip()
        if not text:
            raise forms.ValidationError("Paste the receipt JSON or choose the receipt file.")
        try:
            cleaned["document"] = document_from_json(text)
        except ReceiptMalformed as exc:
            raise forms.ValidationError(str(exc)) from None
        output = cleaned.get("output")
        # Hashed in chunks: an MP4 need not fit in memory.
        cleaned["output_sha256"] = sha256_of_chunks(output.chunks()) if output is not None else None
        return cleaned
