"""manage.py operator_login_link: asks the running site for a message, signs it with the node's key, prints a link."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command
from eth_account import Account

from dashboard.management.commands.operator_login_link import Command
from dashboard.siwe import SiweMessage
from tests.conftest import OPERATOR_KEY
from tests.dashboard.conftest import open_login_link

NODE_TOML = """
[node]
port = 8935
service_uri = "http://127.0.0.1:8935"
keystore = "{keystore}"
keystore_password_env = "TEST_NODE_KEYSTORE_PASSWORD"

[[capabilities]]
pipeline = "text-to-image"
model_id = "livepeer-ai/tiny-sdxl-turbo"
runners = [{{ url = "http://127.0.0.1:9" }}]
"""


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("operator_login_link", *args, stdout=out, skip_checks=False)
    return out.getvalue().strip()


def test_prints_a_link_that_signs_the_browser_in_once(live_server, personas, monkeypatch):
    monkeypatch.setenv("TEST_OPERATOR_KEY", OPERATOR_KEY)
    link = run("--key-env", "TEST_OPERATOR_KEY", "--base-url", live_server.url)
    assert link.startswith(f"{live_server.url}/dashboard/login/link/?message=")

    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        opened = open_login_link(browser, link)
        assert opened.status_code == 200
        assert str(opened.url) == f"{live_server.url}/dashboard/nodes/{personas.operator_address}/"
        assert personas.operator_address in opened.text
    with httpx.Client(follow_redirects=True, timeout=10) as second_browser:
        again = open_login_link(second_browser, link)
        assert again.status_code == 400
        assert "already used" in again.text


def test_signs_with_the_key_a_node_config_names(live_server, personas, monkeypatch, tmp_path: Path):
    keystore = tmp_path / "node-key.json"
    keystore.write_text(json.dumps(Account.encrypt(OPERATOR_KEY, "s3cret", iterations=2)))
    config = tmp_path / "node.toml"
    config.write_text(NODE_TOML.format(keystore=keystore))
    monkeypatch.setenv("TEST_NODE_KEYSTORE_PASSWORD", "s3cret")
    link = run("--config", str(config), "--base-url", live_server.url)
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        assert str(open_login_link(browser, link).url).endswith(f"/dashboard/nodes/{personas.operator_address}/")


def test_says_why_the_site_refused(live_server, db, monkeypatch):
    monkeypatch.setenv("TEST_STRANGER_KEY", "0x" + "11" * 32)
    with pytest.raises(CommandError, match="not the address of any orchestrator"):
        run("--key-env", "TEST_STRANGER_KEY", "--base-url", live_server.url)


def test_says_when_the_site_is_unreachable(monkeypatch):
    monkeypatch.setenv("TEST_OPERATOR_KEY", OPERATOR_KEY)
    with pytest.raises(CommandError, match="cannot reach"):
        run("--key-env", "TEST_OPERATOR_KEY", "--base-url", "http://127.0.0.1:9")


def test_refuses_to_sign_a_message_for_another_site_or_key():
    address = Account.from_key(OPERATOR_KEY).address
    message = SiweMessage(
        domain="evil.example",
        address=address,
        uri="https://evil.example/",
        chain_id=1,
        nonce="abcdefgh1234",
        issued_at=datetime.now(UTC),
    )
    with pytest.raises(CommandError, match="refusing to sign"):
        Command().check_message(message.text(), address, "127.0.0.1:8000")
    with pytest.raises(CommandError, match="not this key's"):
        Command().check_message(message.text(), "0x" + "22" * 20, "evil.example")
    with pytest.raises(CommandError, match="not a sign-in message"):
        Command().check_message("Please sign: transfer everything", address, "127.0.0.1:8000")
