"""How the dashboard writes amounts: exact, from integer wei."""

from __future__ import annotations

WEI_PER_ETH = 10**18


def eth(wei: int | str | None) -> str:
    """Exact wei as ETH, e.g. 1230000000000000 → "0.00123 ETH" (no rounding, trailing zeros dropped)."""
    if wei is None or wei == "":
        return "unknown"
    amount = int(wei)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), WEI_PER_ETH)
    digits = f"{fraction:018d}".rstrip("0")
    return f"{sign}{whole:,}{'.' + digits if digits else ''} ETH"
