"""The chain client: compile the Vyper contracts, deploy them, sign and send transactions.

The contracts (`contracts/*.vy`) are compiled with the installed vyper at run
time and cached under `var/contracts/`, keyed by source hash and vyper version;
no compiled artifact is committed. `Chain` wraps one web3 HTTP provider
(`WEB3_PROVIDER_URI`): every request and every receipt wait has a timeout, and
a revert surfaces as `ContractReverted` carrying the contract's reason string.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import requests
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
REGISTRY = "OrchestratorRegistry"
TICKET_BROKER = "TicketBroker"
ETH_USD_FEED = "EthUsdFeed"

# Demo deployment defaults. Livepeer's active set is the top 100 (docs/protocol.md §4)
# and its deploy config gives tickets 2 rounds of validity (§3.4); a round here
# is counted in blocks because anvil mines one per transaction.
DEFAULT_ROUND_LENGTH_BLOCKS = 100
DEFAULT_POOL_MAX_SIZE = 100
DEFAULT_UNLOCK_PERIOD_ROUNDS = 2
DEFAULT_TICKET_VALIDITY_PERIOD_ROUNDS = 2
# Chainlink's ETH/USD aggregators answer in USD with 8 decimals.
ETH_USD_FEED_DECIMALS = 8

DEFAULT_REQUEST_TIMEOUT_S = 10.0
GAS_HEADROOM_DIVISOR = 5  # 20 % above the estimate
DEFAULT_RECEIPT_TIMEOUT_S = 60.0


class ChainError(RuntimeError):
    """The node is unreachable, misconfigured, or a transaction was not mined in time."""


class ChainUnavailable(ChainError):
    """The chain's node did not answer (down, unreachable, timed out): the chain's fault, not the caller's."""


class ChainProvider(HTTPProvider):
    """web3's HTTP provider, with a chain that does not answer raised as `ChainUnavailable`
    (web3 lets the transport's own errors through), so every caller can tell an outage apart."""

    def make_request(self, method: Any, params: Any) -> Any:
        try:
            return super().make_request(method, params)
        except requests.RequestException as exc:
            raise ChainUnavailable(f"the chain at {self.endpoint_uri} did not answer: {exc}") from exc


class ContractReverted(ChainError):
    """A call or transaction reverted; `reason` is the contract's message when it gave one."""

    def __init__(self, action: str, reason: str | None, receipt: TxReceipt | None = None) -> None:
        super().__init__(f"{action} reverted: {reason or 'no reason given'}")
        self.reason = reason
        self.receipt = receipt


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@dataclass(frozen=True)
class PaymentContracts:
    """Addresses of one deployment."""

    registry: str
    ticket_broker: str
    eth_usd_feed: str = ""  # empty where the chain has no ETH/USD feed


def default_cache_dir() -> Path:
    var_dir = os.environ.get("LIVEPEER_VAR_DIR") or str(Path(__file__).resolve().parents[2] / "var")
    return Path(var_dir) / "contracts"


def compile_contract(name: str, cache_dir: Path | None = None) -> CompiledContract:
    """ABI and deployable bytecode of `contracts/<name>.vy`, compiled once per source and vyper version."""
    source = (CONTRACTS_DIR / f"{name}.vy").read_text()
    vyper_version = version("vyper")
    key = hashlib.sha256(f"vyper {vyper_version}\n{source}".encode()).hexdigest()[:16]
    cache_file = (cache_dir or default_cache_dir()) / f"{name}-{key}.json"
    if cache_file.exists():
        cached = json.loads(cache_file.read_text())
        return CompiledContract(name=name, abi=cached["abi"], bytecode=cached["bytecode"])

    import vyper  # slow to import; only needed on a cache miss

    output = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    compiled = CompiledContract(name=name, abi=output["abi"], bytecode=output["bytecode"])
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never sees half a file.
    partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"vyper": vyper_version, "abi": compiled.abi, "bytecode": compiled.bytecode}))
    os.replace(partial, cache_file)
    return compiled


def _revert_reason(error: ContractLogicError) -> str | None:
    message = str(error.message or error)
    prefix = "execution reverted: "
    if prefix in message:
        return message.split(prefix, 1)[1]
    return None if message.strip() == "execution reverted" else message


def _rpc_error_message(error: Web3RPCError) -> str:
    response = error.rpc_response or {}
    detail = response.get("error")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    return str(error.message)


class Chain:
    """One EVM node over HTTP, with signed raw transactions from private keys."""

    def __init__(
        self,
        provider_uri: str,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
        receipt_timeout_s: float = DEFAULT_RECEIPT_TIMEOUT_S,
        cache_dir: Path | None = None,
    ) -> None:
        self.provider_uri = provider_uri
        self.receipt_timeout_s = receipt_timeout_s
        self.cache_dir = cache_dir
        self.w3 = Web3(ChainProvider(provider_uri, request_kwargs={"timeout": request_timeout_s}))
        self._chain_id: int | None = None
        self._compiled: dict[str, CompiledContract] = {}
        # Nonce lookup and send must not interleave between threads of one process.
        self._send_lock = threading.Lock()

    @classmethod
    def from_env(cls) -> Chain:
        provider_uri = os.environ.get("WEB3_PROVIDER_URI", "")
        if not provider_uri:
            raise ChainError("WEB3_PROVIDER_URI is not set (e.g. http://127.0.0.1:8545 for a local anvil)")
        return cls(provider_uri)

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def balance_of(self, address: str) -> int:
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))

    # Contracts

    def compiled(self, name: str) -> CompiledContract:
        if name not in self._compiled:
            self._compiled[name] = compile_contract(name, self.cache_dir)
        return self._compiled[name]

    def contract(self, name: str, address: str) -> Contract:
        compiled = self.compiled(name)
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=compiled.abi)

    def registry(self, address: str) -> Contract:
        return self.contract(REGISTRY, address)

    def ticket_broker(self, address: str) -> Contract:
        return self.contract(TICKET_BROKER, address)

    def deploy(self, name: str, constructor_args: tuple[Any, ...], deployer_key: str) -> str:
        """Deploy `contracts/<name>.vy`; returns the new contract's address."""
        compiled = self.compiled(name)
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        receipt = self.transact(factory.constructor(*constructor_args), deployer_key)
        if not receipt["contractAddress"]:
            raise ChainError(f"deploying {name} returned no contract address")
        return str(receipt["contractAddress"])

    def deploy_payments(
        self,
        deployer_key: str,
        round_length_blocks: int = DEFAULT_ROUND_LENGTH_BLOCKS,
        pool_max_size: int = DEFAULT_POOL_MAX_SIZE,
        unlock_period_rounds: int = DEFAULT_UNLOCK_PERIOD_ROUNDS,
        ticket_validity_period_rounds: int = DEFAULT_TICKET_VALIDITY_PERIOD_ROUNDS,
    ) -> PaymentContracts:
        registry = self.deploy(REGISTRY, (round_length_blocks, pool_max_size), deployer_key)
        broker = self.deploy(
            TICKET_BROKER, (registry, unlock_period_rounds, ticket_validity_period_rounds), deployer_key
        )
        return PaymentContracts(registry=registry, ticket_broker=broker)

    def deploy_eth_usd_feed(
        self, deployer_key: str, answer: int, decimals: int = ETH_USD_FEED_DECIMALS, description: str = "ETH / USD"
    ) -> str:
        """An ETH/USD feed whose admin is the deployer; `answer` is USD per ETH scaled by 10**decimals."""
        return self.deploy(ETH_USD_FEED, (decimals, description, answer), deployer_key)

    def eth_usd_feed(self, address: str) -> Contract:
        return self.contract(ETH_USD_FEED, address)

    def ensure_round_initialized(self, registry_address: str, account_key: str) -> TxReceipt | None:
        """Initialize the current round if nobody has yet; redemption requires it (Livepeer's
        currentRoundInitialized) and fresh tickets need its block hash (docs/protocol.md §3.1)."""
        registry = self.registry(registry_address)
        # Ask about the pending block: the latest may still be in the previous round.
        if registry.functions.currentRoundInitialized().call(block_identifier="pending"):
            return None
        try:
            return self.transact(registry.functions.initializeRound(), account_key)
        except ContractReverted as error:
            if error.reason == "round already initialized":  # someone else was quicker
                return None
            raise

    # Transactions

    def call(self, function: ContractFunction) -> Any:
        """A read-only call; a revert raises ContractReverted with its reason."""
        try:
            return function.call()
        except ContractLogicError as error:
            raise ContractReverted(_describe(function), _revert_reason(error)) from error

    def transact(
        self,
        function: ContractFunction | ContractConstructor,
        account_key: str,
        value: int = 0,
        gas: int | None = None,
    ) -> TxReceipt:
        """Sign `function` with `account_key`, send it, and return its mined receipt.

        Without `gas`, gas comes from eth_estimateGas, which also surfaces a
        revert with its reason before anything is sent. A transaction that
        fails once mined is replayed as a call to recover its reason.
        """
        account = Account.from_key(account_key)
        action = _describe(function)
        with self._send_lock:
            params: TxParams = {
                "from": account.address,
                "value": Wei(value),
                "chainId": self.chain_id,
                "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
            }
            # Estimate against the pending block, the one the transaction will
            # run in: web3's default estimate runs on the latest block, whose
            # number (and so round) is one behind.
            transaction = function.build_transaction({**params, "gas": gas or 0})
            if gas is None:
                del transaction["gas"]
                try:
                    estimate = self.w3.eth.estimate_gas(transaction, block_identifier="pending")
                except ContractLogicError as error:
                    raise ContractReverted(action, _revert_reason(error)) from error
                except Web3RPCError as error:  # e.g. insufficient funds for gas
                    raise ChainError(f"{action}: {_rpc_error_message(error)}") from error
                # Headroom for state that changes between estimate and inclusion
                # (another sender's transaction); only the gas used is paid.
                transaction["gas"] = estimate + estimate // GAS_HEADROOM_DIVISOR
            signed = account.sign_transaction(transaction)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout_s, poll_latency=0.05
            )
        except TimeExhausted as error:
            raise ChainError(f"{action}: no receipt for {tx_hash.hex()} after {self.receipt_timeout_s}s") from error
        if receipt["status"] != 1:
            raise ContractReverted(action, self._replay_for_reason(transaction, receipt), receipt)
        return receipt

    def _replay_for_reason(self, transaction: TxParams, receipt: TxReceipt) -> str | None:
        """Re-run a mined, failed transaction as a call on the state before its block."""
        fields = ("from", "to", "data", "value", "gas")
        replay = cast(TxParams, {key: value for key, value in transaction.items() if key in fields})
        try:
            self.w3.eth.call(replay, block_identifier=receipt["blockNumber"] - 1)
        except ContractLogicError as error:
            return _revert_reason(error)
        except Web3RPCError as error:  # an out-of-gas halt is no revert, and has no reason
            return _rpc_error_message(error)
        return None


def _describe(function: ContractFunction | ContractConstructor) -> str:
    if isinstance(function, ContractConstructor):
        return "constructor"
    return str(function.fn_name)
