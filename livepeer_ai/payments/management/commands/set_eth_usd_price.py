from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from eth_utils import to_checksum_address

from livepeer_ai.payments.accounts import AccountError, account_from_env
from livepeer_ai.payments.chain import Chain, ChainError
from livepeer_ai.payments.eth_usd import configured_feed_address, feed_answer, read_feed


class Command(BaseCommand):
    help = "Set the ETH/USD feed's answer (the demo feed `deploy_contracts` deployed, or ETH_USD_FEED_ADDRESS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usd_per_eth", help="USD per ETH, e.g. 3012.45")
        parser.add_argument("--key-env", default="DEPLOYER_PRIVATE_KEY", help="env variable holding the feed admin key")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.WEB3_PROVIDER_URI:
            raise CommandError("WEB3_PROVIDER_URI is not set")
        address = configured_feed_address()
        if not address:
            raise CommandError("no ETH/USD feed: run `manage.py deploy_contracts` or set ETH_USD_FEED_ADDRESS")
        chain = Chain(settings.WEB3_PROVIDER_URI)
        try:
            if not chain.w3.eth.get_code(to_checksum_address(address)):
                raise CommandError(f"no contract at the ETH/USD feed address {address}")
            feed = chain.eth_usd_feed(address)
            answer = feed_answer(options["usd_per_eth"], int(feed.functions.decimals().call()))
            admin = account_from_env(options["key_env"])
            chain.transact(feed.functions.setAnswer(answer), admin.key.hex())
        except (AccountError, ChainError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        rate = read_feed(chain, address, settings.ETH_USD_FEED_MAX_AGE_S)
        self.stdout.write(f"ETH/USD {rate.usd_per_eth} ({rate.note})")
