"""Ethereum accounts from a keystore file or the environment: the gateway's (the ticket
sender) here, an orchestrator's through `orchestrator/identity.py`.

Keys are held in memory only, and a key that is not exactly 32 bytes of hex is
refused: eth_account would pad a short one silently, giving another identity
than the operator meant.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from django.conf import settings
from eth_account import Account
from eth_account.signers.local import LocalAccount

WEI_PER_ETH = 10**18


class AccountError(Exception):
    pass


def account_from_env(variable: str) -> LocalAccount:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        raise AccountError(f"environment variable {variable} (a private key) is not set")
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", raw):
        raise AccountError(f"{variable} must be 32 bytes of hex (64 digits, optionally after 0x)")
    try:
        return Account.from_key(raw)
    except (ValueError, TypeError) as exc:
        raise AccountError(f"{variable} is not a valid private key: {exc}") from None


def account_from_keystore(path: Path, password_env: str) -> LocalAccount:
    """A keystore JSON file, its password read from the environment variable `password_env`."""
    password = os.environ.get(password_env, "") if password_env else ""
    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError:
        raise AccountError(f"keystore {path} does not exist") from None
    try:
        return Account.from_key(Account.decrypt(keystore, password))
    except ValueError as exc:
        raise AccountError(f"keystore {path}: cannot decrypt ({exc})") from None


def gateway_account() -> LocalAccount:
    if settings.GATEWAY_KEYSTORE:
        return account_from_keystore(Path(settings.GATEWAY_KEYSTORE), settings.GATEWAY_KEYSTORE_PASSWORD_ENV)
    return account_from_env(settings.GATEWAY_PRIVATE_KEY_ENV)


# An amount of ETH as typed: digits, at most one point, up to 18 decimals (no exponent, no sign).
ETH_AMOUNT = re.compile(r"(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?")
ETH_DECIMALS = 18
MAX_WEI = 2**256 - 1
MAX_WHOLE_ETH_DIGITS = len(str(MAX_WEI // WEI_PER_ETH))


def eth_to_wei(amount: str) -> int:
    """'1.5' ETH → wei, exactly: parsed as digits, never through a float or a rounding Decimal."""
    match = ETH_AMOUNT.fullmatch(amount.strip())
    if match is None or not (match["whole"] or match["fraction"]):
        raise AccountError(f"{amount!r} is not an amount of ETH")
    fraction = (match["fraction"] or "").rstrip("0")
    if len(fraction) > ETH_DECIMALS:
        raise AccountError(f"{amount!r} is not a non-negative amount of ETH with at most 18 decimals")
    whole = match["whole"].lstrip("0")
    # More wei than a uint256 holds is no amount a transaction can carry (and no int worth parsing).
    wei = -1
    if len(whole) <= MAX_WHOLE_ETH_DIGITS:
        wei = int(whole or "0") * WEI_PER_ETH + int(fraction.ljust(ETH_DECIMALS, "0"))
    if not 0 <= wei <= MAX_WEI:
        raise AccountError(f"{amount!r} ETH is more than any account can hold (2^256 - 1 wei)")
    return wei
