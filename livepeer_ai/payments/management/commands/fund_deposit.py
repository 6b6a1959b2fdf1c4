from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from livepeer_ai.payments.accounts import AccountError, eth_to_wei, gateway_account
from livepeer_ai.payments.amounts import exact_eth
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.chain import ChainError


class Command(BaseCommand):
    help = "Fund the gateway's TicketBroker deposit and reserve (amounts in ETH), like `livepeer_cli` does."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--deposit", default="0", help="ETH to add to the deposit")
        parser.add_argument("--reserve", default="0", help="ETH to add to the reserve")
        parser.add_argument("--top-up", action="store_true", help="only add what brings each up to the given amount")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = gateway_account()
            deposit, reserve = eth_to_wei(options["deposit"]), eth_to_wei(options["reserve"])
            broker = Broker.from_settings()
            info = broker.sender_info(account.address)
            if options["top_up"]:
                deposit, reserve = max(0, deposit - info.deposit), max(0, reserve - info.reserve)
            if deposit or reserve:
                broker.chain.transact(
                    broker.ticket_broker.functions.fundDepositAndReserve(deposit, reserve),
                    account.key.hex(),
                    value=deposit + reserve,
                )
            info = broker.sender_info(account.address)
        except (AccountError, ChainError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"gateway {account.address}: deposit {exact_eth(info.deposit)} ETH, reserve {exact_eth(info.reserve)} ETH"
        )
