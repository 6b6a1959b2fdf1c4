"""Amounts of money as people read them, from integer wei.

One place for every page and command: `readable` (ETH to 4 significant
digits, gwei or wei for small amounts), `usd` (dollars at a rate, rounded to
the cent or to 2 significant digits below a dollar), `exact_eth` (every wei,
for commands and hover text) and `money_html`, the three together as the pages
show them: the readable amount, the exact wei in its title, and the USD value
beside it when a rate is known. Exports (CSV) write the integer wei itself.

All arithmetic is on integers and Decimals with enough precision for 2**256 wei;
no float ever holds an amount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WEI_PER_ETH = 10**18
WEI_PER_GWEI = 10**9
SIGNIFICANT_DIGITS = 4
# Below these, an amount reads better in the smaller unit: 0.00000034 ETH is 340 gwei.
GWEI_BELOW_WEI = 10**13  # 0.00001 ETH = 10,000 gwei
WEI_BELOW_WEI = 10**5  # 0.0001 gwei
USD_SIGNIFICANT_DIGITS = 2
SMALLEST_USD = Decimal("0.000001")

# 2**256 has 78 digits; with the exponent shifts below, 100 keeps every wei.
_EXACT = Context(prec=100, rounding=ROUND_HALF_UP)


def exact_eth(wei: int) -> str:
    """Wei as ETH, exactly: 1500000000000000001 → '1.500000000000000001', 2 * 10**18 → '2'."""
    sign = "-" if wei < 0 else ""
    whole, fraction = divmod(abs(wei), WEI_PER_ETH)
    decimals = f"{fraction:018d}".rstrip("0")
    return f"{sign}{whole}.{decimals}" if decimals else f"{sign}{whole}"


def _significant(value: Decimal, digits: int) -> str:
    """`value` (≥ 0) to `digits` significant digits, half up, with thousands separators and
    no trailing zeros; an integer part longer than `digits` is kept whole, never rounded."""
    if value == 0:
        return "0"
    magnitude = value.adjusted()  # 0 for 1.x, -3 for 0.00x
    places = max(digits - 1 - magnitude, 0)
    rounded = value.quantize(Decimal(1).scaleb(-places), context=_EXACT)
    if rounded.adjusted() > magnitude and places > 0:  # 9.9996 → 10.00: one place fewer
        rounded = rounded.quantize(Decimal(1).scaleb(-(places - 1)), context=_EXACT)
    whole, _, fraction = f"{rounded:f}".partition(".")
    fraction = fraction.rstrip("0")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


def readable(wei: int) -> str:
    """'0.003401 ETH', '12 ETH', '340 gwei', '1 wei': 4 significant digits, the unit that suits the size."""
    sign = "-" if wei < 0 else ""
    size = abs(wei)
    if size == 0:
        return "0 ETH"
    if size < WEI_BELOW_WEI:
        return f"{sign}{size:,} wei"
    if size < GWEI_BELOW_WEI:
        return f"{sign}{_significant(Decimal(size).scaleb(-9, _EXACT), SIGNIFICANT_DIGITS)} gwei"
    return f"{sign}{_significant(Decimal(size).scaleb(-18, _EXACT), SIGNIFICANT_DIGITS)} ETH"


def usd_value(wei: int, usd_per_eth: Decimal) -> Decimal:
    """The USD an amount of wei is worth at `usd_per_eth`, unrounded."""
    return _EXACT.divide(_EXACT.multiply(Decimal(wei), usd_per_eth), Decimal(WEI_PER_ETH))


def usd(wei: int, usd_per_eth: Decimal) -> str:
    """'$10.20', '$1,234.57', '$0.0052', '< $0.000001': cents from a dollar up, 2 significant digits below."""
    return dollars(usd_value(wei, usd_per_eth))


def dollars(value: Decimal) -> str:
    """A USD amount as `usd` writes it (for figures already in dollars: a cloud price, a sum at past rates)."""
    sign = "-" if value < 0 else ""
    value = value.copy_abs()  # abs() would round to the default context's 28 digits
    if value == 0:
        return "$0.00"
    if value < SMALLEST_USD:
        return f"{sign}< ${SMALLEST_USD}"
    if value >= 1:
        return f"{sign}${value.quantize(Decimal('0.01'), context=_EXACT):,}"
    text = _significant(value, USD_SIGNIFICANT_DIGITS)
    if len(text.partition(".")[2]) < 2:  # $0.5 reads as $0.50
        text = f"{Decimal(text):.2f}"
    return f"{sign}${text}"


def money_html(wei: int | str | None, usd_per_eth: Decimal | None = None, rate_note: str = "") -> SafeString:
    """The amount as pages show it: readable, the exact wei on hover, and ≈ USD beside it at a known rate."""
    if wei is None or wei == "":
        return mark_safe('<span class="muted">unknown</span>')
    amount = int(wei)
    exact = f"{amount} wei ({exact_eth(amount)} ETH)"
    if usd_per_eth is None:
        return format_html('<span class="amount" title="{}">{}</span>', exact, readable(amount))
    at_rate = f"at ${usd_per_eth.normalize():,f} per ETH" + (f", {rate_note}" if rate_note else "")
    return format_html(
        '<span class="amount" title="{}">{}</span> <span class="usd muted" title="{}">≈ {}</span>',
        exact,
        readable(amount),
        at_rate,
        usd(amount, usd_per_eth),
    )
