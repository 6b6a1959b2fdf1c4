from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from eth_utils import to_checksum_address

from livepeer_ai.payments.accounts import AccountError, account_from_env
from livepeer_ai.payments.broker import load_addresses, save_addresses
from livepeer_ai.payments.chain import (
    DEFAULT_POOL_MAX_SIZE,
    DEFAULT_ROUND_LENGTH_BLOCKS,
    DEFAULT_TICKET_VALIDITY_PERIOD_ROUNDS,
    DEFAULT_UNLOCK_PERIOD_ROUNDS,
    ETH_USD_FEED_DECIMALS,
    Chain,
    ChainError,
    PaymentContracts,
)
from livepeer_ai.payments.eth_usd import feed_answer

# The demo feed's starting price, USD per ETH; `manage.py set_eth_usd_price` moves it.
DEMO_ETH_USD_PRICE = "3000"


class Command(BaseCommand):
    help = (
        "Deploy the OrchestratorRegistry, TicketBroker and an ETH/USD feed to WEB3_PROVIDER_URI; write their addresses."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--key-env", default="DEPLOYER_PRIVATE_KEY", help="env variable holding the deployer key")
        parser.add_argument("--round-length", type=int, default=DEFAULT_ROUND_LENGTH_BLOCKS, help="blocks per round")
        parser.add_argument("--pool-size", type=int, default=DEFAULT_POOL_MAX_SIZE, help="active set size")
        parser.add_argument("--unlock-period", type=int, default=DEFAULT_UNLOCK_PERIOD_ROUNDS, help="rounds")
        parser.add_argument("--ticket-validity", type=int, default=DEFAULT_TICKET_VALIDITY_PERIOD_ROUNDS, help="rounds")
        parser.add_argument(
            "--eth-usd-price", default=DEMO_ETH_USD_PRICE, help="the ETH/USD feed's first answer, USD per ETH"
        )
        parser.add_argument(
            "--force", action="store_true", help="deploy even if the addresses file names live contracts"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.WEB3_PROVIDER_URI:
            raise CommandError("WEB3_PROVIDER_URI is not set")
        chain = Chain(settings.WEB3_PROVIDER_URI)
        path = Path(settings.CHAIN_ADDRESSES_FILE)
        try:
            answer = feed_answer(options["eth_usd_price"], ETH_USD_FEED_DECIMALS)
        except ValueError as exc:
            raise CommandError(f"--eth-usd-price: {exc}") from None

        def live(address: str) -> bool:
            return bool(address) and bool(chain.w3.eth.get_code(to_checksum_address(address)))

        try:
            existing = load_addresses(path) if path.exists() and not options["force"] else None
            if existing and live(existing.registry) and live(existing.ticket_broker):
                if live(existing.eth_usd_feed):
                    self.stdout.write(
                        f"contracts already deployed: {existing.registry} {existing.ticket_broker} "
                        f"{existing.eth_usd_feed}"
                    )
                    return
                # A deployment from before the feed existed: add the feed, keep the rest.
                addresses = replace(existing, eth_usd_feed=self.deploy_feed(chain, options["key_env"], answer))
            else:
                deployer = account_from_env(options["key_env"])
                addresses = chain.deploy_payments(
                    deployer.key.hex(),
                    round_length_blocks=options["round_length"],
                    pool_max_size=options["pool_size"],
                    unlock_period_rounds=options["unlock_period"],
                    ticket_validity_period_rounds=options["ticket_validity"],
                )
                addresses = replace(addresses, eth_usd_feed=self.deploy_feed(chain, options["key_env"], answer))
        except (AccountError, ChainError) as exc:
            raise CommandError(str(exc)) from None
        save_addresses(addresses, chain.chain_id, path)
        self.report(addresses, path)

    def deploy_feed(self, chain: Chain, key_env: str, answer: int) -> str:
        return chain.deploy_eth_usd_feed(account_from_env(key_env).key.hex(), answer)

    def report(self, addresses: PaymentContracts, path: Path) -> None:
        self.stdout.write(
            f"OrchestratorRegistry {addresses.registry}\nTicketBroker {addresses.ticket_broker}\n"
            f"EthUsdFeed {addresses.eth_usd_feed}\n→ {path}"
        )
