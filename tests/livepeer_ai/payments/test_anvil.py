"""The embedded chain: anvil from npm, deterministic accounts, started and stopped by PID."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from eth_account import Account

from livepeer_ai.payments.anvil import DEFAULT_MNEMONIC, DEFAULT_PRIVATE_KEYS, Anvil, AnvilError, anvil_binary
from livepeer_ai.payments.chain import Chain
from tests.conftest import HTTP, PYTHON, free_port, spawn, wait_for


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
        answer = HTTP.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=5)
        assert int(answer.json()["result"], 16) == 4242
    finally:
        node.stop()
    assert process.poll() is not None
    with pytest.raises(httpx.ConnectError):
        HTTP.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2)


def test_a_missing_binary_fails_with_the_install_hint(tmp_path: Path) -> None:
    with pytest.raises(AnvilError, match="make install"):
        Anvil(binary=tmp_path / "no-anvil").start()


def rpc(url: str, method: str, params: list | None = None) -> Any:
    return HTTP.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=5).json()


def anvil_on(port: int) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "anvil" and f"--port {port} " in " ".join(p.info["cmdline"] or []) + " "
    ]


@pytest.mark.integration
def test_run_anvil_killed_with_sigkill_takes_its_chain_along_and_a_restart_has_its_state(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LIVEPEER_VAR_DIR": str(tmp_path)}
    args = [PYTHON, "manage.py", "run_anvil", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    first = spawn("run-anvil", args, env, tmp_path)
    try:
        wait_for(lambda: rpc(url, "eth_chainId")["result"], 60, f"anvil\n{first.log_tail()}")
        rpc(url, "anvil_mine", ["0x5"])
        assert int(rpc(url, "eth_blockNumber")["result"], 16) == 5
        first.proc.kill()
        first.proc.wait(timeout=10)
        # The chain goes with its wrapper: nothing holds the port, nothing is left under PID 1.
        wait_for(lambda: not anvil_on(port), 10, f"anvil left running: {anvil_on(port)}")
    finally:
        first.stop()
        for left in anvil_on(port):
            left.kill()
    second = spawn("run-anvil-again", args, env, tmp_path)
    try:
        wait_for(lambda: rpc(url, "eth_chainId")["result"], 60, f"anvil again\n{second.log_tail()}")
        assert int(rpc(url, "eth_blockNumber")["result"], 16) == 5
    finally:
        second.stop()
