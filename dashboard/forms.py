from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.http import QueryDict
from eth_utils import is_address, to_checksum_address

from dashboard.cloud_prices import CloudPrice
from livepeer_ai.payments.models import RedemptionStatus


class SignInForm(forms.Form):
    """A signed EIP-4361 message, from the browser wallet or a login link."""

    message = forms.CharField(max_length=4096, strip=False)
    signature = forms.CharField(max_length=140)

    def clean_message(self) -> str:
        # Browsers submit a form field's line breaks as CRLF (HTML's form encoding); the
        # message was signed with LF, and its ABNF allows no CR anywhere, so this is lossless.
        return str(self.cleaned_data["message"]).replace("\r\n", "\n")


# Filters turn a date into the start of that day and of the next one, as aware datetimes:
# Python's calendar ends at 9999-12-31, so the last day must leave a day (and any time
# zone's offset) to spare. No ticket predates 1970.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9999, 12, 30)


def within_calendar(day: date | None) -> date | None:
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise forms.ValidationError(f"Enter a date between {FIRST_DAY} and {LAST_DAY}.")
    return day


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

    def clean_received_from(self) -> date | None:
        return within_calendar(self.cleaned_data["received_from"])

    def clean_received_to(self) -> date | None:
        return within_calendar(self.cleaned_data["received_to"])

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


class PricingForm(forms.Form):
    """The operator's pricing helper: their GPU's hourly cost, and a cloud GPU-hour price to match."""

    gpu_usd_per_hour = forms.DecimalField(
        label="Your GPU's cost per hour (USD)",
        min_value=Decimal("0.0001"),
        max_value=Decimal(10_000),
        max_digits=12,
        decimal_places=4,
        required=False,
    )
    cloud = forms.TypedChoiceField(label="Cloud price to match", coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, gpu_prices: list[CloudPrice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gpu_prices = gpu_prices
        cloud = self.fields["cloud"]
        assert isinstance(cloud, forms.TypedChoiceField)
        cloud.choices = [("", "none")] + [
            (
                str(index),
                f"{p.provider} {p.product} ({p.gpu}): ${(p.usd_per_gpu_hour or Decimal(0)).normalize():f}/h, {p.as_of}",
            )
            for index, p in enumerate(gpu_prices)
        ]

    @property
    def chosen_cloud(self) -> CloudPrice | None:
        index = self.cleaned_data.get("cloud")
        return None if index is None else self.gpu_prices[index]
