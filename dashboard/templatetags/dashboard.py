"""Showing addresses, shares and durations on the dashboard pages (amounts: `{% load money %}`)."""

from __future__ import annotations

from django import template

from dashboard import charts, pricing

register = template.Library()

register.filter("series_colour", charts.legend_colour)
# {{ capability.pixels_per_unit|priced_units:capability.pipeline }}: "1 px", "1 token", "1 ms of audio".
register.filter("priced_units", pricing.priced_units)


@register.filter
def short_address(address: str) -> str:
    """0x1234…abcd: enough to tell nodes apart in a narrow column."""
    return f"{address[:6]}…{address[-4:]}" if address and len(address) > 12 else address


@register.filter
def percent(fraction: float | None) -> str:
    return "–" if fraction is None else f"{fraction * 100:.1f} %"


@register.filter
def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
