"""One formatter for amounts: readable ETH, gwei or wei, USD beside it, the exact wei on hover."""

from __future__ import annotations

from decimal import Decimal

import pytest

from livepeer_ai.payments.amounts import exact_eth, money_html, readable, usd

MAX_WEI = 2**256 - 1
GWEI = 10**9
ETH = 10**18


@pytest.mark.parametrize(
    ("wei", "shown"),
    [
        (0, "0 ETH"),
        (1, "1 wei"),
        (99_999, "99,999 wei"),
        (100_000, "0.0001 gwei"),
        (GWEI, "1 gwei"),
        (340 * GWEI, "340 gwei"),
        (123_456_789, "0.1235 gwei"),  # 4 significant digits, half up
        (10**13 - 1, "10,000 gwei"),
        (10**13, "0.00001 ETH"),
        (3_400_807_529_695_102, "0.003401 ETH"),
        (3_400_000_000_000_000, "0.0034 ETH"),
        (12 * ETH, "12 ETH"),
        (12_344_999 * 10**12, "12.34 ETH"),  # 12.344999: below the half
        (12_345_000 * 10**12, "12.35 ETH"),  # exactly half: up
        (9_999_500 * 10**12, "10 ETH"),  # rounds up into one more digit
        (12_345 * ETH + 5, "12,345 ETH"),  # the whole part is never rounded away
        (1_234_567_890_123 * ETH, "1,234,567,890,123 ETH"),
        (MAX_WEI, "115,792,089,237,316,195,423,570,985,008,687,907,853,269,984,665,640,564,039,458 ETH"),
        (-ETH, "-1 ETH"),
    ],
)
def test_readable_amounts(wei: int, shown: str) -> None:
    assert readable(wei) == shown


@pytest.mark.parametrize(
    ("wei", "usd_per_eth", "shown"),
    [
        (0, "3000", "$0.00"),
        (1, "3000", "< $0.000001"),
        (GWEI, "3000", "$0.000003"),
        (3_400_807_529_695_102, "3000", "$10.20"),
        (12 * ETH, "3012.45", "$36,149.40"),
        (1_675 * 10**12, "3000", "$5.03"),  # 5.025: half a cent, up
        (1_665 * 10**12, "3000", "$5.00"),  # 4.995: half a cent, up to a round dollar
        (ETH // 6, "3", "$0.50"),  # 0.4999999…: two significant digits below a dollar, cents kept
        (5 * 10**14, "1", "$0.0005"),
        (1_666_666_666_666_667, "3000", "$5.00"),
        (MAX_WEI, "3000", "$347,376,267,711,948,586,270,712,955,026,063,723,559,809,953,996,921,692,118,372,752.02"),
        (-ETH, "3000", "-$3,000.00"),
    ],
)
def test_usd_values(wei: int, usd_per_eth: str, shown: str) -> None:
    assert usd(wei, Decimal(usd_per_eth)) == shown


def test_exact_eth_keeps_every_wei() -> None:
    assert exact_eth(MAX_WEI) == "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
    assert exact_eth(1) == "0.000000000000000001"
    assert exact_eth(-(12 * ETH + 1)) == "-12.000000000000000001"


def test_the_page_form_has_the_exact_wei_on_hover_and_usd_only_at_a_known_rate() -> None:
    without = str(money_html(3_400_807_529_695_102))
    assert without == (
        '<span class="amount" title="3400807529695102 wei (0.003400807529695102 ETH)">0.003401 ETH</span>'
    )
    with_rate = str(money_html(3_400_807_529_695_102, Decimal("3000.00000000"), "configured, not live"))
    assert with_rate == (
        '<span class="amount" title="3400807529695102 wei (0.003400807529695102 ETH)">0.003401 ETH</span> '
        '<span class="usd muted" title="at $3,000 per ETH, configured, not live">≈ $10.20</span>'
    )
    assert str(money_html(None)) == '<span class="muted">unknown</span>'
    assert str(money_html(str(MAX_WEI))).startswith(f'<span class="amount" title="{MAX_WEI} wei')
