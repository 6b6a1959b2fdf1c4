"""What the recipient and the sender read from (and send to) the deployed contracts.

One `Broker` per process; reads are plain calls with the chain client's
timeouts. The addresses come from `var/chain.json` (written by `manage.py
deploy_contracts`) or from TICKET_BROKER_ADDRESS / ORCHESTRATOR_REGISTRY_ADDRESS.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from web3.types import TxReceipt

from livepeer_ai.payments.chain import Chain, ChainError, PaymentContracts
from livepeer_ai.payments.tickets import Ticket


@dataclass(frozen=True)
class SenderInfo:
    deposit: int
    withdraw_round: int
    reserve: int
    reserve_claimed_this_round: int

    @property
    def unlocking(self) -> bool:
        return self.withdraw_round > 0


class Broker:
    def __init__(self, chain: Chain, addresses: PaymentContracts) -> None:
        self.chain = chain
        self.addresses = addresses
        self.registry = chain.registry(addresses.registry)
        self.ticket_broker = chain.ticket_broker(addresses.ticket_broker)

    @classmethod
    def from_settings(cls) -> Broker:
        if not settings.WEB3_PROVIDER_URI:
            raise ChainError("WEB3_PROVIDER_URI is not set: payments are off-chain")
        return cls(Chain(settings.WEB3_PROVIDER_URI), load_addresses())

    def block_number(self) -> int:
        return self.chain.block_number()

    def gas_price(self) -> int:
        return int(self.chain.w3.eth.gas_price)

    def current_round(self) -> int:
        return int(self.registry.functions.currentRound().call())

    def last_initialized_round(self) -> tuple[int, bytes]:
        """(round, its block hash): what a fresh ticket's auxData names (docs/protocol.md §3.1)."""
        round_number = int(self.registry.functions.lastInitializedRound().call())
        return round_number, bytes(self.registry.functions.blockHashForRound(round_number).call())

    def round_block_hash(self, round_number: int) -> bytes:
        return bytes(self.registry.functions.blockHashForRound(round_number).call())

    @functools.cached_property
    def ticket_validity_period(self) -> int:
        """Immutable in the broker: read once, not on every payment."""
        return int(self.ticket_broker.functions.ticketValidityPeriod().call())

    def sender_info(self, sender: str) -> SenderInfo:
        (deposit, withdraw_round), (reserve, claimed) = self.ticket_broker.functions.getSenderInfo(sender).call()
        return SenderInfo(int(deposit), int(withdraw_round), int(reserve), int(claimed))

    def pool_size(self) -> int:
        return int(self.registry.functions.getTranscoderPoolSize().call())

    def is_active(self, orchestrator: str) -> bool:
        return bool(self.registry.functions.isActiveTranscoder(orchestrator).call())

    def is_used(self, ticket_hash: bytes) -> bool:
        return bool(self.ticket_broker.functions.usedTickets(ticket_hash).call())

    def active_orchestrators(self) -> list[tuple[str, str, int]]:
        """(address, service URI, stake) of the active set, highest stake first (docs/protocol.md §4)."""
        result = []
        for address in self.registry.functions.getActiveTranscoders().call():
            uri = str(self.registry.functions.getServiceURI(address).call())
            stake = int(self.registry.functions.stakeOf(address).call())
            result.append((str(address), uri, stake))
        return result

    def ensure_round_initialized(self, account_key: str) -> None:
        self.chain.ensure_round_initialized(self.addresses.registry, account_key)

    def redeem(self, ticket: Ticket, signature: bytes, recipient_rand: int, account_key: str) -> TxReceipt:
        function = self.ticket_broker.functions.redeemWinningTicket(
            ticket.as_contract_tuple(), signature, recipient_rand
        )
        return self.chain.transact(function, account_key)


def load_addresses(path: Path | None = None) -> PaymentContracts:
    if settings.TICKET_BROKER_ADDRESS and settings.ORCHESTRATOR_REGISTRY_ADDRESS:
        return PaymentContracts(
            registry=settings.ORCHESTRATOR_REGISTRY_ADDRESS, ticket_broker=settings.TICKET_BROKER_ADDRESS
        )
    path = path or Path(settings.CHAIN_ADDRESSES_FILE)
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ChainError(
            f"{path} does not exist: run `manage.py deploy_contracts`, or set TICKET_BROKER_ADDRESS "
            "and ORCHESTRATOR_REGISTRY_ADDRESS"
        ) from None
    return PaymentContracts(
        registry=raw["registry"], ticket_broker=raw["ticket_broker"], eth_usd_feed=raw.get("eth_usd_feed", "")
    )


def save_addresses(addresses: PaymentContracts, chain_id: int, path: Path | None = None) -> Path:
    path = path or Path(settings.CHAIN_ADDRESSES_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {
        "chain_id": chain_id,
        "registry": addresses.registry,
        "ticket_broker": addresses.ticket_broker,
    }
    if addresses.eth_usd_feed:
        written["eth_usd_feed"] = addresses.eth_usd_feed
    path.write_text(json.dumps(written, indent=2) + "\n")
    return path
