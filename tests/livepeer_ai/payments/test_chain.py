"""The chain client: compiled-contract cache, signed transactions, revert reasons."""

from __future__ import annotations

import json
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from livepeer_ai.payments.chain import (
    REGISTRY,
    TICKET_BROKER,
    Chain,
    ChainError,
    ChainUnavailable,
    ContractReverted,
    compile_contract,
)

from .conftest import STRANGER_KEY, Payments, address_of


def test_compiled_contracts_are_cached_by_source_hash_and_vyper_version(
    payments: Payments, contract_cache: Path
) -> None:
    # The session deployment compiled its contracts into contract_cache (a later test may add the price feed's).
    cached = {path.name.split("-")[0]: path for path in contract_cache.glob("*.json")}
    assert {REGISTRY, TICKET_BROKER} <= set(cached)
    stamp = cached[TICKET_BROKER].stat().st_mtime_ns
    compiled = compile_contract(TICKET_BROKER, contract_cache)
    assert cached[TICKET_BROKER].stat().st_mtime_ns == stamp
    assert json.loads(cached[TICKET_BROKER].read_text())["vyper"] == version("vyper")
    assert compiled.bytecode.startswith("0x") and any(
        item.get("name") == "redeemWinningTicket" for item in compiled.abi
    )


def test_deploy_returns_addresses_with_code(payments: Payments) -> None:
    for address in (payments.addresses.registry, payments.addresses.ticket_broker):
        assert len(payments.chain.w3.eth.get_code(address)) > 0
    assert payments.broker.functions.registry().call() == payments.addresses.registry


def test_transact_returns_the_mined_receipt_with_gas_used(payments: Payments) -> None:
    receipt = payments.chain.transact(payments.registry.functions.register("https://s.test"), STRANGER_KEY, value=5)
    assert receipt["status"] == 1 and receipt["gasUsed"] > 21_000
    assert payments.registry.functions.stakeOf(address_of(STRANGER_KEY)).call() == 5


def test_a_revert_raises_with_its_reason_and_sends_nothing(payments: Payments) -> None:
    stranger = address_of(STRANGER_KEY)
    nonce = payments.chain.w3.eth.get_transaction_count(stranger)
    with pytest.raises(ContractReverted, match="addStake reverted: orchestrator not registered") as raised:
        payments.chain.transact(payments.registry.functions.addStake(), STRANGER_KEY, value=1)
    assert raised.value.reason == "orchestrator not registered"
    assert payments.chain.w3.eth.get_transaction_count(stranger) == nonce


def test_a_reverting_call_raises_with_its_reason(payments: Payments) -> None:
    with pytest.raises(ContractReverted, match="invalid signature length"):
        payments.chain.call(payments.broker.functions.recoverTicketSigner(b"\0" * 32, b"\1" * 64))


def test_contract_handles_bind_the_abi_to_an_address(chain: Chain, payments: Payments) -> None:
    registry = chain.contract(REGISTRY, payments.addresses.registry.lower())
    assert registry.address == payments.addresses.registry
    assert registry.functions.getTranscoderPoolMaxSize().call() == 100


def test_from_env_needs_web3_provider_uri(monkeypatch: pytest.MonkeyPatch, anvil_url: str) -> None:
    monkeypatch.delenv("WEB3_PROVIDER_URI", raising=False)
    with pytest.raises(ChainError, match="WEB3_PROVIDER_URI"):
        Chain.from_env()
    monkeypatch.setenv("WEB3_PROVIDER_URI", anvil_url)
    assert Chain.from_env().chain_id == 31337


def test_an_unreachable_node_fails_within_the_request_timeout() -> None:
    chain = Chain("http://127.0.0.1:9", request_timeout_s=2)
    started = time.monotonic()
    # Said as the chain's absence (ChainUnavailable), which nodes answer 503 chain_unavailable for.
    with pytest.raises(ChainUnavailable):
        chain.block_number()
    assert time.monotonic() - started < 30  # web3's retries are bounded too


@pytest.fixture
def anvil_url(chain: Chain) -> str:
    return chain.provider_uri
