"""The pricing helper: the price per unit at which an hour of the node's GPU earns a given number of dollars.

From a GPU's hourly cost (what the operator pays for it, USD) and the node's
measured seconds per unit, the break-even price earns exactly that cost per hour
of busy time; the same arithmetic with a cloud price per GPU-hour gives the price
that matches the cloud. A node prices in `price_per_unit` wei per
`pixels_per_unit` units (docs/protocol.md §2.1), both integers: the helper picks
the smallest power of ten of units that gives a price of at least
MIN_PRICE_DIGITS digits, and rounds the price up, so the offer never earns less
than asked. All arithmetic is on Fractions: no float touches a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from dashboard.forms import PricingForm
from dashboard.gpu_hours import PipelineEarnings
from livepeer_ai.payments.amounts import WEI_PER_ETH
from livepeer_ai.payments.ticket_value import ceil_div

SECONDS_PER_HOUR = 3600
# A price of at least 1,000 wei per `pixels_per_unit`: rounding it up costs under 0.1 %.
MIN_PRICE = 1000


@dataclass(frozen=True)
class Offer:
    price_per_unit: int  # wei
    pixels_per_unit: int

    def fee_wei(self, units: int) -> int:
        """What `units` cost at this offer, by the protocol's own rule (rounded up)."""
        return ceil_div(units * self.price_per_unit, self.pixels_per_unit)


def wei_per_unit(usd_per_hour: Decimal, seconds_per_unit: Fraction, usd_per_eth: Decimal) -> Fraction:
    """The exact wei per unit at which `seconds_per_unit` of busy time earns `usd_per_hour`."""
    if usd_per_eth <= 0:
        raise ValueError("an ETH/USD rate must be positive")
    usd_per_unit = Fraction(usd_per_hour) * seconds_per_unit / SECONDS_PER_HOUR
    return usd_per_unit / Fraction(usd_per_eth) * WEI_PER_ETH


def offer_for(exact_wei_per_unit: Fraction) -> Offer:
    """The integer offer nearest above the exact price: a power of ten of units, the price rounded up."""
    if exact_wei_per_unit <= 0:
        return Offer(0, 1)
    pixels = 1
    while exact_wei_per_unit * pixels < MIN_PRICE:
        pixels *= 10
    scaled = exact_wei_per_unit * pixels
    return Offer(ceil_div(scaled.numerator, scaled.denominator), pixels)


def price_for_hourly(usd_per_hour: Decimal, seconds_per_unit: Fraction, usd_per_eth: Decimal) -> Offer:
    """The offer at which an hour of busy time earns `usd_per_hour` (a GPU's cost, or a cloud's price)."""
    return offer_for(wei_per_unit(usd_per_hour, seconds_per_unit, usd_per_eth))


@dataclass(frozen=True)
class PricingRow:
    pipeline: str
    unit: str  # what one billed unit is
    seconds_per_unit: Fraction
    break_even: Offer | None
    matches_cloud: Offer | None

    @property
    def example_units(self) -> int:
        """A megapixel, a second of audio, 1,000 tokens or 1,000 characters: a size whose fee reads as money."""
        return EXAMPLES.get(self.unit, EXAMPLES[PIXEL_UNIT])[0]

    @property
    def example(self) -> str:
        return EXAMPLES.get(self.unit, EXAMPLES[PIXEL_UNIT])[1]

    @property
    def seconds_per_example(self) -> float:
        return float(self.seconds_per_unit * self.example_units)

    @property
    def break_even_example_wei(self) -> int | None:
        return None if self.break_even is None else self.break_even.fee_wei(self.example_units)

    @property
    def matches_cloud_example_wei(self) -> int | None:
        return None if self.matches_cloud is None else self.matches_cloud.fee_wei(self.example_units)

    @property
    def offers(self) -> list[tuple[Offer | None, int | None]]:
        """(break-even, matches the cloud), each with its fee for the example size: the page's two columns."""
        return [(self.break_even, self.break_even_example_wei), (self.matches_cloud, self.matches_cloud_example_wei)]


PIXEL_UNIT = "pixel"
AUDIO_UNIT = "millisecond of audio"
# llm bills the max_tokens it was asked for (protocol/units.py).
TOKEN_UNIT = "token"
# text-to-speech bills the characters of its text (UTF-8 bytes, as go-livepeer counts them).
CHARACTER_UNIT = "character of text"
UNITS = {"audio-to-text": AUDIO_UNIT, "llm": TOKEN_UNIT, "text-to-speech": CHARACTER_UNIT}
# Per unit: (how many make the example size, its name).
EXAMPLES = {
    PIXEL_UNIT: (1_000_000, "megapixel"),
    AUDIO_UNIT: (1000, "second of audio"),
    TOKEN_UNIT: (1000, "1,000 tokens"),
    CHARACTER_UNIT: (1000, "1,000 characters"),
}


# Per unit: how a count of it reads beside a price, one and many ("1 px", "10 tokens").
PRICED_IN = {
    PIXEL_UNIT: ("px", "px"),
    AUDIO_UNIT: ("ms of audio", "ms of audio"),
    TOKEN_UNIT: ("token", "tokens"),
    CHARACTER_UNIT: ("character", "characters"),
}


def unit_of(pipeline: str) -> str:
    return UNITS.get(pipeline, PIXEL_UNIT)


def priced_units(count: int, pipeline: str) -> str:
    """`count` of the units `pipeline` is priced in, as a node's `pixels_per_unit` reads: "1 px", "10 tokens"."""
    one, many = PRICED_IN[unit_of(pipeline)]
    return f"{count} {one if count == 1 else many}"


def pricing_rows(
    measured: list[tuple[str, Fraction | None]],
    gpu_usd_per_hour: Decimal | None,
    cloud_usd_per_hour: Decimal | None,
    usd_per_eth: Decimal,
) -> list[PricingRow]:
    """For each (pipeline, measured seconds per unit): the break-even offer and the one that matches the cloud."""
    rows = []
    for pipeline, seconds_per_unit in measured:
        if seconds_per_unit is None:
            continue
        rows.append(
            PricingRow(
                pipeline,
                unit_of(pipeline),
                seconds_per_unit,
                None if gpu_usd_per_hour is None else price_for_hourly(gpu_usd_per_hour, seconds_per_unit, usd_per_eth),
                None
                if cloud_usd_per_hour is None
                else price_for_hourly(cloud_usd_per_hour, seconds_per_unit, usd_per_eth),
            )
        )
    return rows


def helper_rows(
    pricing: PricingForm, gpu_hours: list[PipelineEarnings], usd_per_eth: Decimal | None
) -> list[PricingRow]:
    """The helper's rows for the operator page: none until a rate is known and the form is valid."""
    if usd_per_eth is None or not pricing.is_valid():
        return []
    cloud = pricing.chosen_cloud
    gpu_usd_per_hour = pricing.cleaned_data.get("gpu_usd_per_hour")
    if gpu_usd_per_hour is None and cloud is None:
        return []
    return pricing_rows(
        [(earned.pipeline, earned.seconds_per_unit) for earned in gpu_hours],
        gpu_usd_per_hour,
        None if cloud is None else cloud.usd_per_gpu_hour,
        usd_per_eth,
    )
