"""The node's Ethereum identity: from a keystore file or an environment variable.

The key is held in memory only; nothing here writes it anywhere.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from livepeer_ai.orchestrator.config import ConfigError, NodeConfig


def load_identity(config: NodeConfig) -> LocalAccount:
    if config.keystore:
        path = Path(config.keystore)
        password = os.environ.get(config.keystore_password_env, "") if config.keystore_password_env else ""
        try:
            keystore = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"keystore {path} does not exist") from None
        try:
            return Account.from_key(Account.decrypt(keystore, password))
        except ValueError as exc:
            raise ConfigError(f"keystore {path}: cannot decrypt ({exc})") from None
    raw = os.environ.get(config.private_key_env, "").strip()
    if not raw:
        raise ConfigError(f"environment variable {config.private_key_env} (the node's private key) is not set")
    # eth_account pads a short key silently, which would give the node another
    # identity than the operator meant: insist on exactly 32 bytes of hex.
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", raw):
        raise ConfigError(f"{config.private_key_env} must be 32 bytes of hex (64 digits, optionally after 0x)")
    try:
        return Account.from_key(raw)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{config.private_key_env} is not a valid private key: {exc}") from None
