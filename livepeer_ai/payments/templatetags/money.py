"""`{{ wei|money }}` and `{% eth_usd_note %}`: amounts on every page, through one formatter."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from livepeer_ai.payments.amounts import money_html
from livepeer_ai.payments.eth_usd import current_rate

register = template.Library()


@register.filter
def money(wei: int | str | None) -> SafeString:
    """Readable ETH (or gwei), the exact wei on hover, and ≈ USD beside it at today's rate when one is known.
    Fragments pushed over the WebSocket have no request, so the rate comes from here, not a context processor."""
    rate = current_rate()
    return money_html(wei, rate.usd_per_eth, rate.note)


@register.simple_tag
def eth_usd_note() -> SafeString:
    """Where the USD values on the page come from, or why there are none."""
    rate = current_rate()
    if rate.usd_per_eth is None:
        return format_html('<span class="eth-usd muted">{}</span>', rate.note)
    return format_html(
        '<span class="eth-usd muted">USD at ${} per ETH ({})</span>', f"{rate.usd_per_eth.normalize():,f}", rate.note
    )
