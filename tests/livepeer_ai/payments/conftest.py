"""A real anvil for the payment tests.

One anvil per session (node_modules/.bin/anvil's binary, from `make install`),
the contracts deployed once with three registered orchestrators and a funded
gateway, and every test starting from that state through evm_snapshot /
evm_revert.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from livepeer_ai.payments.anvil import DEFAULT_PRIVATE_KEYS, Anvil
from livepeer_ai.payments.chain import Chain, PaymentContracts
from livepeer_ai.payments.tickets import (
    MAX_WIN_PROB,
    Ticket,
    aux_data_for,
    recipient_rand_hash,
    sign_ticket_hash,
    ticket_hash,
)

ETH = 10**18
ROUND_LENGTH_BLOCKS = 50
UNLOCK_PERIOD_ROUNDS = 2
TICKET_VALIDITY_PERIOD_ROUNDS = 2
POOL_MAX_SIZE = 100

# Named accounts, all anvil defaults.
DEPLOYER_KEY = DEFAULT_PRIVATE_KEYS[0]
GATEWAY_KEY = DEFAULT_PRIVATE_KEYS[1]
ORCHESTRATOR_A_KEY = DEFAULT_PRIVATE_KEYS[2]
ORCHESTRATOR_B_KEY = DEFAULT_PRIVATE_KEYS[3]
ORCHESTRATOR_C_KEY = DEFAULT_PRIVATE_KEYS[4]
OTHER_GATEWAY_KEY = DEFAULT_PRIVATE_KEYS[5]
STRANGER_KEY = DEFAULT_PRIVATE_KEYS[8]
# Submits redemptions for others, so a recipient's balance moves by the payout alone.
RELAYER_KEY = DEFAULT_PRIVATE_KEYS[9]

GATEWAY_DEPOSIT = 1 * ETH
GATEWAY_RESERVE = 3 * ETH
ORCHESTRATOR_STAKES = {ORCHESTRATOR_A_KEY: 3 * ETH, ORCHESTRATOR_B_KEY: 2 * ETH, ORCHESTRATOR_C_KEY: 1 * ETH}


def address_of(private_key: str) -> str:
    return str(Account.from_key(private_key).address)


@dataclass(frozen=True)
class SignedTicket:
    ticket: Ticket
    signature: bytes
    recipient_rand: int

    @property
    def redeem_args(self) -> tuple[tuple[Any, ...], bytes, int]:
        return self.ticket.as_contract_tuple(), self.signature, self.recipient_rand


@dataclass
class Payments:
    """The deployed contracts plus the chain-steering helpers the tests share."""

    chain: Chain
    registry: Contract
    broker: Contract
    addresses: PaymentContracts
    _nonces: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in response, response
        return response["result"]

    def mine(self, blocks: int) -> None:
        if blocks > 0:
            self.rpc("anvil_mine", hex(blocks))

    def current_round(self) -> int:
        return int(self.registry.functions.currentRound().call())

    def mine_to_round(self, round_number: int) -> None:
        """Mine so that the next transaction lands in the first block of `round_number`
        (automine puts each transaction in the block after the latest)."""
        blocks = round_number * ROUND_LENGTH_BLOCKS - 1 - self.chain.block_number()
        assert blocks >= 0, f"round {round_number} has already begun"
        self.mine(blocks)

    def start_next_round(self) -> int:
        """Initialize the next round in its first block, so a test has (almost)
        the whole round ahead of it."""
        next_round = self.chain.block_number() // ROUND_LENGTH_BLOCKS + 1
        self.mine_to_round(next_round)
        receipt = self.chain.transact(self.registry.functions.initializeRound(), RELAYER_KEY)
        assert receipt["blockNumber"] == next_round * ROUND_LENGTH_BLOCKS
        return next_round

    def creation_aux_data(self) -> bytes:
        creation_round = int(self.registry.functions.lastInitializedRound().call())
        block_hash = bytes(self.registry.functions.blockHashForRound(creation_round).call())
        return aux_data_for(creation_round, block_hash)

    def sign(
        self,
        sender_key: str = GATEWAY_KEY,
        recipient: str | None = None,
        face_value: int = ETH // 10,
        win_prob: int = MAX_WIN_PROB,
        recipient_rand: int | None = None,
        sender_nonce: int | None = None,
        aux_data: bytes | None = None,
        signer_key: str | None = None,
    ) -> SignedTicket:
        """A ticket from `sender_key` as the broker would see it; `signer_key` forges it."""
        nonce = next(self._nonces) if sender_nonce is None else sender_nonce
        rand = 0xC0FFEE + nonce if recipient_rand is None else recipient_rand
        ticket = Ticket(
            recipient=recipient or address_of(ORCHESTRATOR_A_KEY),
            sender=address_of(sender_key),
            face_value=face_value,
            win_prob=win_prob,
            sender_nonce=nonce,
            recipient_rand_hash=recipient_rand_hash(rand),
            aux_data=self.creation_aux_data() if aux_data is None else aux_data,
        )
        signature = sign_ticket_hash(ticket_hash(ticket), signer_key or sender_key)
        return SignedTicket(ticket, signature, rand)

    def redeem(self, signed: SignedTicket, submitter_key: str = RELAYER_KEY) -> TxReceipt:
        return self.chain.transact(self.broker.functions.redeemWinningTicket(*signed.redeem_args), submitter_key)

    def sender_info(self, sender_key: str = GATEWAY_KEY) -> tuple[int, int, int, int]:
        """(deposit, withdrawRound, fundsRemaining, claimedInCurrentRound)"""
        (deposit, withdraw_round), (funds_remaining, claimed) = self.broker.functions.getSenderInfo(
            address_of(sender_key)
        ).call()
        return deposit, withdraw_round, funds_remaining, claimed

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        decoded = getattr(self.broker.events, name)().process_receipt(receipt, errors=DISCARD)
        return [dict(event["args"]) for event in decoded]


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    log_path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    with Anvil(log_path=log_path) as node:
        yield node


@pytest.fixture(scope="session")
def contract_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contracts")


@pytest.fixture(scope="session")
def chain(anvil: Anvil, contract_cache: Path) -> Chain:
    return Chain(anvil.url, request_timeout_s=10, receipt_timeout_s=30, cache_dir=contract_cache)


@pytest.fixture(scope="session")
def deployed(chain: Chain) -> Payments:
    addresses = chain.deploy_payments(
        DEPLOYER_KEY,
        round_length_blocks=ROUND_LENGTH_BLOCKS,
        pool_max_size=POOL_MAX_SIZE,
        unlock_period_rounds=UNLOCK_PERIOD_ROUNDS,
        ticket_validity_period_rounds=TICKET_VALIDITY_PERIOD_ROUNDS,
    )
    payments = Payments(
        chain, chain.registry(addresses.registry), chain.ticket_broker(addresses.ticket_broker), addresses
    )
    for key, stake in ORCHESTRATOR_STAKES.items():
        uri = f"https://{address_of(key).lower()}.orchestrators.test:8935"
        chain.transact(payments.registry.functions.register(uri), key, value=stake)
    chain.transact(
        payments.broker.functions.fundDepositAndReserve(GATEWAY_DEPOSIT, GATEWAY_RESERVE),
        GATEWAY_KEY,
        value=GATEWAY_DEPOSIT + GATEWAY_RESERVE,
    )
    return payments


@pytest.fixture
def payments(deployed: Payments) -> Iterator[Payments]:
    """The session deployment, rolled back to its starting state after the test."""
    snapshot = deployed.rpc("evm_snapshot")
    deployed._nonces = itertools.count(1)
    try:
        yield deployed
    finally:
        assert deployed.rpc("evm_revert", snapshot) is True
