from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from livepeer_ai.orchestrator.config import ConfigError, load_config
from livepeer_ai.orchestrator.identity import load_identity
from livepeer_ai.payments.accounts import AccountError, eth_to_wei
from livepeer_ai.payments.amounts import exact_eth
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.chain import ChainError


class Command(BaseCommand):
    help = "Register a node's service URI in the OrchestratorRegistry and stake ETH (top up to --stake)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--config", required=True, type=Path, help="the node's TOML config")
        parser.add_argument("--stake", required=True, help="ETH the node should have staked")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = load_config(options["config"])
            account = load_identity(config)
            target = eth_to_wei(options["stake"])
            broker = Broker.from_settings()
            registry = broker.registry
            staked = int(registry.functions.stakeOf(account.address).call())
            uri = str(registry.functions.getServiceURI(account.address).call())
            key = account.key.hex()
            if staked == 0:
                broker.chain.transact(registry.functions.register(config.service_uri), key, value=max(target, 1))
            else:
                if uri != config.service_uri:
                    broker.chain.transact(registry.functions.setServiceURI(config.service_uri), key)
                if target > staked:
                    broker.chain.transact(registry.functions.addStake(), key, value=target - staked)
            staked = int(registry.functions.stakeOf(account.address).call())
            active = broker.is_active(account.address)
        except (ConfigError, AccountError, ChainError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"orchestrator {account.address} at {config.service_uri}: stake {exact_eth(staked)} ETH, "
            f"{'active' if active else 'not in the active set'}"
        )
