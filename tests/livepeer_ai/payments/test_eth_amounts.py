"""ETH amounts typed by an operator (fund_deposit, register_orchestrator) and shown back: exact wei."""

from __future__ import annotations

import pytest

from livepeer_ai.payments.accounts import AccountError, eth_to_wei
from livepeer_ai.payments.amounts import exact_eth

MAX_WEI = 2**256 - 1


@pytest.mark.parametrize(
    ("amount", "wei"),
    [
        ("1", 10**18),
        ("1.5", 15 * 10**17),
        (".5", 5 * 10**17),
        (" 2. ", 2 * 10**18),
        ("0.000000000000000001", 1),
        ("0.000000000000000001000", 1),
        # 29 significant digits: a Decimal at its default 28-digit precision drops the last wei.
        ("10000000000.000000000000000001", 10**28 + 1),
        ("115792089237316195423570985008687907853269984665640564039457.584007913129639935", MAX_WEI),
    ],
)
def test_eth_amounts_become_exact_wei(amount: str, wei: int) -> None:
    assert eth_to_wei(amount) == wei


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("lots", "is not an amount of ETH"),
        ("", "is not an amount of ETH"),
        (".", "is not an amount of ETH"),
        ("-1", "is not an amount of ETH"),
        ("1e3", "is not an amount of ETH"),
        ("NaN", "is not an amount of ETH"),
        ("Infinity", "is not an amount of ETH"),
        ("0.0000000000000000001", "at most 18 decimals"),
        ("115792089237316195423570985008687907853269984665640564039457.584007913129639936", "more than any account"),
        ("9" * 5000, "more than any account"),
    ],
)
def test_anything_else_is_refused_with_a_clear_error(amount: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        eth_to_wei(amount)


def test_wei_are_shown_as_eth_without_rounding() -> None:
    assert exact_eth(2 * 10**18) == "2"
    assert exact_eth(15 * 10**17) == "1.5"
    # As a float with :g this was "1 ETH".
    assert exact_eth(10**18 + 10**9) == "1.000000001"
    assert exact_eth(1) == "0.000000000000000001"
    assert exact_eth(0) == "0"
