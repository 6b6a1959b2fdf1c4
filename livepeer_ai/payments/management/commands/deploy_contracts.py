from __future__ import annotations

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
    Chain,
    ChainError,
)


class Command(BaseCommand):
    help = "Deploy the OrchestratorRegistry and TicketBroker to WEB3_PROVIDER_URI; write their addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--key-env", default="DEPLOYER_PRIVATE_KEY", help="env variable holding the deployer key")
        parser.add_argument("--round-length", type=int, default=DEFAULT_ROUND_LENGTH_BLOCKS, help="blocks per round")
        parser.add_argument("--pool-size", type=int, default=DEFAULT_POOL_MAX_SIZE, help="active set size")
        parser.add_argument("--unlock-period", type=int, default=DEFAULT_UNLOCK_PERIOD_ROUNDS, help="rounds")
        parser.add_argument("--ticket-validity", type=int, default=DEFAULT_TICKET_VALIDITY_PERIOD_ROUNDS, help="rounds")
        parser.add_argument(
            "--force", action="store_true", help="deploy even if the addresses file names live contracts"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.WEB3_PROVIDER_URI:
            raise CommandError("WEB3_PROVIDER_URI is not set")
        chain = Chain(settings.WEB3_PROVIDER_URI)
        path = Path(settings.CHAIN_ADDRESSES_FILE)
        try:
            if path.exists() and not options["force"]:
                existing = load_addresses(path)
                if all(
                    chain.w3.eth.get_code(to_checksum_address(address))
                    for address in (existing.registry, existing.ticket_broker)
                ):
                    self.stdout.write(f"contracts already deployed: {existing.registry} {existing.ticket_broker}")
                    return
            deployer = account_from_env(options["key_env"])
            addresses = chain.deploy_payments(
                deployer.key.hex(),
                round_length_blocks=options["round_length"],
                pool_max_size=options["pool_size"],
                unlock_period_rounds=options["unlock_period"],
                ticket_validity_period_rounds=options["ticket_validity"],
            )
        except (AccountError, ChainError) as exc:
            raise CommandError(str(exc)) from None
        save_addresses(addresses, chain.chain_id, path)
        self.stdout.write(
            f"OrchestratorRegistry {addresses.registry}\nTicketBroker {addresses.ticket_broker}\n→ {path}"
        )
