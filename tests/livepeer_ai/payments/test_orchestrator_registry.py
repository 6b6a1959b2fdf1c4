"""Rounds, stake, service URIs and the top-100 active set (docs/protocol.md §4)."""

from __future__ import annotations

import random

import pytest
from eth_account import Account
from eth_utils import keccak
from web3.logs import DISCARD

from livepeer_ai.payments.chain import REGISTRY, ContractReverted

from .conftest import (
    DEPLOYER_KEY,
    ETH,
    ORCHESTRATOR_A_KEY,
    ORCHESTRATOR_B_KEY,
    ORCHESTRATOR_C_KEY,
    ROUND_LENGTH_BLOCKS,
    STRANGER_KEY,
    Payments,
    address_of,
)


def test_rounds_are_block_number_over_round_length(payments: Payments) -> None:
    payments.mine(3 * ROUND_LENGTH_BLOCKS)
    assert payments.current_round() == payments.chain.block_number() // ROUND_LENGTH_BLOCKS
    assert payments.registry.functions.roundLength().call() == ROUND_LENGTH_BLOCKS


def test_initialize_round_records_the_previous_block_hash_once(payments: Payments) -> None:
    payments.mine(ROUND_LENGTH_BLOCKS)
    assert payments.registry.functions.currentRoundInitialized().call() is False
    receipt = payments.chain.transact(payments.registry.functions.initializeRound(), STRANGER_KEY)
    round_number = receipt["blockNumber"] // ROUND_LENGTH_BLOCKS
    previous_block = payments.chain.w3.eth.get_block(receipt["blockNumber"] - 1)
    assert bytes(payments.registry.functions.blockHashForRound(round_number).call()) == bytes(previous_block["hash"])
    assert payments.registry.functions.lastInitializedRound().call() == round_number
    assert payments.registry.functions.currentRoundInitialized().call() is True
    with pytest.raises(ContractReverted, match="round already initialized"):
        payments.chain.transact(payments.registry.functions.initializeRound(), STRANGER_KEY)


def test_an_uninitialized_round_has_no_block_hash(payments: Payments) -> None:
    payments.mine(ROUND_LENGTH_BLOCKS)
    assert bytes(payments.registry.functions.blockHashForRound(payments.current_round()).call()) == b"\0" * 32


def test_register_stakes_the_value_and_publishes_the_service_uri(payments: Payments) -> None:
    receipt = payments.chain.transact(
        payments.registry.functions.register("https://new.test:8935"), STRANGER_KEY, value=4 * ETH
    )
    stranger = address_of(STRANGER_KEY)
    assert payments.registry.functions.stakeOf(stranger).call() == 4 * ETH
    assert payments.registry.functions.getServiceURI(stranger).call() == "https://new.test:8935"
    [update] = payments.registry.events.ServiceURIUpdate().process_receipt(receipt, errors=DISCARD)
    assert (update["args"]["addr"], update["args"]["serviceURI"]) == (stranger, "https://new.test:8935")
    # The highest stake now leads the active set.
    assert payments.registry.functions.getFirstTranscoderInPool().call() == stranger


def test_stake_can_be_added_later_and_reorders_the_pool(payments: Payments) -> None:
    order = [address_of(key) for key in (ORCHESTRATOR_A_KEY, ORCHESTRATOR_B_KEY, ORCHESTRATOR_C_KEY)]
    assert payments.registry.functions.getActiveTranscoders().call() == order
    payments.chain.transact(payments.registry.functions.addStake(), ORCHESTRATOR_C_KEY, value=5 * ETH)
    assert payments.registry.functions.stakeOf(order[2]).call() == 6 * ETH
    assert payments.registry.functions.getActiveTranscoders().call() == [order[2], order[0], order[1]]


def test_register_without_stake_is_refused(payments: Payments) -> None:
    with pytest.raises(ContractReverted, match="stake must be positive"):
        payments.chain.transact(payments.registry.functions.register("https://x.test"), STRANGER_KEY)


def test_set_service_uri_updates_and_emits_service_uri_update(payments: Payments) -> None:
    receipt = payments.chain.transact(
        payments.registry.functions.setServiceURI("https://moved.test:8935"), ORCHESTRATOR_B_KEY
    )
    orchestrator = address_of(ORCHESTRATOR_B_KEY)
    assert payments.registry.functions.getServiceURI(orchestrator).call() == "https://moved.test:8935"
    [update] = payments.registry.events.ServiceURIUpdate().process_receipt(receipt, errors=DISCARD)
    assert update["args"]["addr"] == orchestrator


def test_active_set_is_exactly_the_top_100_of_150_by_stake(payments: Payments) -> None:
    chain = payments.chain
    registry_address = chain.deploy(REGISTRY, (ROUND_LENGTH_BLOCKS, 100), DEPLOYER_KEY)
    registry = chain.registry(registry_address)
    rng = random.Random(150)
    keys = ["0x" + keccak(text=f"orchestrator-{index}").hex().removeprefix("0x") for index in range(150)]
    addresses = [Account.from_key(key).address for key in keys]
    for address in addresses:
        payments.rpc("anvil_setBalance", address, hex(1000 * ETH))
    # Few distinct stakes, so ties are common and the address tie-break matters.
    stakes = {address: rng.randint(1, 40) * ETH for address in addresses}
    for key, address in zip(keys, addresses, strict=True):
        chain.transact(registry.functions.register(f"https://{address.lower()}.test"), key, value=stakes[address])
    # Stake added later moves some outsiders in and some members up.
    for key, address in rng.sample(list(zip(keys, addresses, strict=True)), 20):
        extra = rng.randint(1, 15) * ETH
        chain.transact(registry.functions.addStake(), key, value=extra)
        stakes[address] += extra

    ranked = sorted(addresses, key=lambda address: (-stakes[address], int(address, 16)))
    expected = ranked[:100]
    assert registry.functions.getActiveTranscoders().call() == expected
    assert registry.functions.getTranscoderPoolSize().call() == 100
    assert registry.functions.getTranscoderPoolMaxSize().call() == 100
    assert [registry.functions.isActiveTranscoder(address).call() for address in ranked] == [True] * 100 + [False] * 50
    walked = [registry.functions.getFirstTranscoderInPool().call()]
    while (following := registry.functions.getNextTranscoderInPool(walked[-1]).call()) != "0x" + "00" * 20:
        walked.append(following)
    assert walked == expected
    assert [registry.functions.stakeOf(address).call() for address in expected] == [stakes[a] for a in expected]


def test_ensure_round_initialized_initializes_the_round_the_next_block_is_in(payments: Payments) -> None:
    next_round = payments.current_round() + 1
    payments.mine_to_round(next_round)
    # The latest block is the last of the old, initialized round; the next one is not.
    assert payments.registry.functions.currentRoundInitialized().call() is True
    receipt = payments.chain.ensure_round_initialized(payments.addresses.registry, STRANGER_KEY)
    assert receipt is not None and receipt["blockNumber"] // ROUND_LENGTH_BLOCKS == next_round
    assert payments.registry.functions.lastInitializedRound().call() == next_round
    assert payments.chain.ensure_round_initialized(payments.addresses.registry, STRANGER_KEY) is None
