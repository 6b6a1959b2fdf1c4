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
from decimal import Decimal, InvalidOperation
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


def eth_to_wei(amount: str) -> int:
    """'1.5' ETH → wei, exactly (no floats); at most 18 decimals."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise AccountError(f"{amount!r} is not an amount of ETH") from None
    wei = value * WEI_PER_ETH
    if value < 0 or wei != wei.to_integral_value():
        raise AccountError(f"{amount!r} is not a non-negative amount of ETH with at most 18 decimals")
    return int(wei)
