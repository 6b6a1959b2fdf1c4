from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from eth_utils import is_address, to_checksum_address

from livepeer_ai.payments.models import RedemptionStatus


class SignInForm(forms.Form):
    """A signed EIP-4361 message, from the browser wallet or a login link."""

    message = forms.CharField(max_length=4096, strip=False)
    signature = forms.CharField(max_length=140)

    def clean_message(self) -> str:
        # Browsers submit a form field's line breaks as CRLF (HTML's form encoding); the
        # message was signed with LF, and its ABNF allows no CR anywhere, so this is lossless.
        return str(self.cleaned_data["message"]).replace("\r\n", "\n")


class TicketFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *RedemptionStatus.choices], required=False)
    sender = forms.CharField(
        required=False, max_length=42, help_text="The gateway's address (0x…)", label="Sender (gateway)"
    )
    received_from = forms.DateField(
        required=False, label="Received from", widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(required=False, label="Received to", widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_sender(self) -> str:
        sender = self.cleaned_data["sender"].strip()
        if sender and not is_address(sender):
            raise forms.ValidationError("Enter an Ethereum address: 0x followed by 40 hex digits.")
        return to_checksum_address(sender) if sender else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("received_from"), cleaned.get("received_to")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        return cleaned

    def query_without_page(self) -> str:
        """The filter as a query string, for pagination and export links."""
        query = QueryDict(mutable=True)
        for name in ("status", "sender", "received_from", "received_to"):
            value = self.data.get(name, "")
            if value:
                query[name] = value
        return query.urlencode()
