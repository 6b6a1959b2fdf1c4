"""`{{ wei|money }}` and `{% eth_usd_note %}`: amounts on every page, through one formatter."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from livepeer_ai.payments.amounts import dollars, money_html
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


@register.filter
def eth(wei: int | str | None) -> SafeString:
    """`money` without today's USD: for a figure whose dollars were worked out at past rates and shown
    beside it (`dollars`), where today's rate would give a second, different USD value."""
    return money_html(wei)


@register.filter(name="dollars")
def dollars_filter(value: Decimal | None) -> str:
    """A figure already in USD, written as `money` writes dollars; a dash when unknown."""
    return "–" if value is None else dollars(value)
