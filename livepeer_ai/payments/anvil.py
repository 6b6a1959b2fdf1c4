"""A private anvil chain on a loopback port: the embedded default for `WEB3_PROVIDER_URI`.

anvil comes from npm (`@foundry-rs/anvil`, installed by `make install`). It
mines one block per transaction (no `--block-time`) and derives its funded
accounts from the standard test mnemonic, so every run sees the same keys and
addresses. Usable as a context manager and, with `start`/`stop`, from a
management command that keeps it running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from livepeer_ai.lifetime import die_with_parent
from livepeer_ai.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"

# Foundry's standard development mnemonic; anvil derives m/44'/60'/0'/0/i from it.
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
DEFAULT_BALANCE_ETH = 10_000
# The first ten keys of DEFAULT_MNEMONIC (well known, test use only; a test
# re-derives them with eth-account and checks anvil's own account list).
DEFAULT_PRIVATE_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)

_PORT_ATTEMPTS = 3
STATE_INTERVAL_S = 1


class AnvilError(RuntimeError):
    """anvil is missing, exited, or did not answer in time."""


def anvil_binary(node_modules: Path = NODE_MODULES) -> Path:
    """The anvil executable that `node_modules/.bin/anvil` runs.

    That file is a node wrapper which forwards SIGTERM to the real binary and
    exits at once without waiting for it, so a stop by PID would not know when
    anvil itself is gone. npm installs exactly one platform package holding the
    binary; use it directly, and the wrapper only if there is none.
    """
    platform_binaries = sorted(node_modules.glob("@foundry-rs/anvil-*/bin/anvil"))
    if len(platform_binaries) == 1:
        return platform_binaries[0]
    return node_modules / ".bin" / "anvil"


class Anvil:
    """One anvil process. `url` is its JSON-RPC endpoint once started."""

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        chain_id: int = DEFAULT_CHAIN_ID,
        accounts: int = len(DEFAULT_PRIVATE_KEYS),
        balance_eth: int = DEFAULT_BALANCE_ETH,
        binary: Path | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 30.0,
        state_path: Path | None = None,
    ) -> None:
        self.requested_port = port
        self.host = host
        self.chain_id = chain_id
        self.accounts = accounts
        self.balance_eth = balance_eth
        self.binary = binary or anvil_binary()
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        # anvil loads its chain from here at start and writes it back on exit,
        # so a demo restarted keeps its contracts, deposits and redeemed tickets.
        self.state_path = state_path
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise AnvilError("anvil is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> Anvil:
        if not self.binary.exists():
            raise AnvilError(f"no anvil at {self.binary}: run `make install` (npm ci installs @foundry-rs/anvil)")
        # A port picked here can be taken before anvil binds it; retry a few
        # times, but only when we chose the port ourselves.
        attempts = 1 if self.requested_port else _PORT_ATTEMPTS
        failure = AnvilError("anvil was not started")
        for _ in range(attempts):
            self.port = self.requested_port or free_port(self.host)
            self._spawn()
            try:
                self._wait_until_answering()
                return self
            except AnvilError as error:
                self.stop()
                failure = error
        raise failure

    def _spawn(self) -> None:
        args = [
            str(self.binary),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--accounts",
            str(self.accounts),
            "--balance",
            str(self.balance_eth),
            "--mnemonic",
            DEFAULT_MNEMONIC,
        ]
        if self.state_path is not None:
            # Saved on exit, and every STATE_INTERVAL_S too: an anvil killed with SIGKILL loses at most that much.
            args += ["--state", str(self.state_path), "--state-interval", str(STATE_INTERVAL_S)]
        log_file = self.log_path.open("ab") if self.log_path else None
        try:
            # Its own session, so stop() can signal the process group named by
            # our PID: that also reaches anvil under the node wrapper fallback.
            self.process = subprocess.Popen(
                args,
                stdout=log_file or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                # `run_anvil` killed with SIGKILL must not leave anvil holding the port: it gets
                # SIGTERM, which saves its state (orchestrator/children.py).
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        finally:
            if log_file:
                log_file.close()

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AnvilError(f"anvil exited with {self.process.returncode} on port {self.port}{self._log_hint()}")
            try:
                response = httpx.post(self.url, json=request, timeout=1.0)
                if int(response.json()["result"], 16) == self.chain_id:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        raise AnvilError(f"anvil did not answer eth_chainId within {self.startup_timeout_s}s{self._log_hint()}")

    def _log_hint(self) -> str:
        return f" (log: {self.log_path})" if self.log_path else ""

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate anvil's process group (ours, by PID), then kill it if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue
        raise AnvilError(f"anvil (pid {process.pid}) did not stop")

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
