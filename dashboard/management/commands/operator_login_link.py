from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from dashboard.siwe import SiweError, SiweMessage
from livepeer_ai.orchestrator.config import ConfigError, load_config
from livepeer_ai.orchestrator.identity import load_identity
from livepeer_ai.payments.accounts import AccountError, account_from_env, account_from_keystore

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class Command(BaseCommand):
    help = (
        "Sign in to the operator dashboard without a browser wallet: sign a Sign-In with Ethereum message "
        "with the node's key and print a one-time login link (valid 10 minutes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        key = parser.add_mutually_exclusive_group(required=True)
        key.add_argument("--config", type=Path, help="the node's TOML config (its keystore or key variable)")
        key.add_argument("--keystore", type=Path, help="a keystore JSON file")
        key.add_argument("--key-env", help="an environment variable holding the private key")
        parser.add_argument("--password-env", default="", help="with --keystore: the variable holding its password")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the dashboard's address")

    def handle(self, *args: Any, **options: Any) -> None:
        account = self.account(options)
        base_url = str(options["base_url"]).rstrip("/")
        try:
            response = httpx.get(
                f"{base_url}/dashboard/login/message/", params={"address": account.address}, timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise CommandError(f"cannot reach {base_url}: {exc}") from None
        if response.status_code != 200:
            raise CommandError(f"{base_url} refused: {self.detail(response)}")
        text = str(response.json()["message"])
        self.check_message(text, account.address, urlsplit(base_url).netloc)
        signature = Account.sign_message(encode_defunct(text=text), private_key=account.key).signature
        query = urlencode({"message": text, "signature": "0x" + bytes(signature).hex()})
        self.stdout.write(f"{base_url}/dashboard/login/link/?{query}")

    def account(self, options: dict[str, Any]) -> LocalAccount:
        try:
            if options["config"]:
                return load_identity(load_config(options["config"]))
            if options["keystore"]:
                return account_from_keystore(options["keystore"], options["password_env"])
            return account_from_env(options["key_env"])
        except (ConfigError, AccountError) as exc:
            raise CommandError(str(exc)) from None

    def check_message(self, text: str, address: str, host: str) -> None:
        """Sign only a login message for this key and the site asked (EIP-4361's wallet checks)."""
        try:
            message = SiweMessage.parse(text)
        except SiweError as exc:
            raise CommandError(f"the site sent something that is not a sign-in message: {exc}") from None
        if message.domain != host:
            raise CommandError(f"the message is for {message.domain}, not {host}: refusing to sign it")
        if message.address != address:
            raise CommandError(f"the message is for {message.address}, not this key's {address}")

    @staticmethod
    def detail(response: httpx.Response) -> str:
        try:
            return str(response.json()["detail"])
        except (ValueError, KeyError, TypeError):
            return f"HTTP {response.status_code}"
