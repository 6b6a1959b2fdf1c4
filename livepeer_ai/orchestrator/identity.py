"""The node's Ethereum identity: from a keystore file or an environment variable.

The key is held in memory only; nothing here writes it anywhere. Loading and
checking are `payments/accounts.py`'s, shared with the gateway's account.
"""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from livepeer_ai.orchestrator.config import ConfigError, NodeConfig
from livepeer_ai.payments.accounts import AccountError, account_from_env, account_from_keystore


def load_identity(config: NodeConfig) -> LocalAccount:
    try:
        if config.keystore:
            return account_from_keystore(Path(config.keystore), config.keystore_password_env)
        return account_from_env(config.private_key_env)
    except AccountError as exc:
        raise ConfigError(str(exc)) from None
