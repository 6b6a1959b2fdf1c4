"""The embedded chain: anvil from npm, deterministic accounts, started and stopped by PID."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from eth_account import Account

from livepeer_ai.payments.anvil import DEFAULT_MNEMONIC, DEFAULT_PRIVATE_KEYS, Anvil, AnvilError, anvil_binary
from livepeer_ai.payments.chain import Chain


def test_default_keys_are_the_first_ten_of_the_standard_mnemonic(chain: Chain) -> None:
    Account.enable_unaudited_hdwallet_features()
    derived = [
        Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key.to_0x_hex()
        for index in range(10)
    ]
    assert list(DEFAULT_PRIVATE_KEYS) == derived
    # ...and they are the accounts anvil funds.
    assert chain.w3.eth.accounts == [Account.from_key(key).address for key in DEFAULT_PRIVATE_KEYS]
    assert chain.balance_of(Account.from_key(DEFAULT_PRIVATE_KEYS[7]).address) > 0


def test_runs_the_npm_packaged_binary() -> None:
    binary = anvil_binary()
    assert binary.exists()
    assert "node_modules" in binary.parts


@pytest.mark.integration
def test_a_second_anvil_answers_and_stops_by_pid(tmp_path: Path) -> None:
    node = Anvil(log_path=tmp_path / "anvil.log", chain_id=4242).start()
    process = node.process
    assert process is not None
    try:
        answer = httpx.post(
            node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=5
        )
        assert int(answer.json()["result"], 16) == 4242
    finally:
        node.stop()
    assert process.poll() is not None
    with pytest.raises(httpx.ConnectError):
        httpx.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2)


def test_a_missing_binary_fails_with_the_install_hint(tmp_path: Path) -> None:
    with pytest.raises(AnvilError, match="make install"):
        Anvil(binary=tmp_path / "no-anvil").start()
