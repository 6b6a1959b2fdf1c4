"""deploy_contracts, fund_deposit and register_orchestrator against a real anvil."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from livepeer_ai.payments.broker import Broker, load_addresses
from tests.livepeer_ai.payments.conftest import DEPLOYER_KEY, ETH, GATEWAY_KEY, STRANGER_KEY, address_of


def run(*args: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def chain_settings(anvil: Any, payments: Any, settings: Any, tmp_path: Path, monkeypatch: Any) -> Path:
    """A fresh deployment on the session anvil (rolled back after), addresses in a temp file."""
    settings.WEB3_PROVIDER_URI = anvil.url
    settings.CHAIN_ADDRESSES_FILE = str(tmp_path / "chain.json")
    settings.TICKET_BROKER_ADDRESS = settings.ORCHESTRATOR_REGISTRY_ADDRESS = ""
    monkeypatch.setenv("DEPLOYER_PRIVATE_KEY", DEPLOYER_KEY)
    # The stranger has never touched the session's contracts: a new gateway.
    monkeypatch.setenv("GATEWAY_PRIVATE_KEY", STRANGER_KEY)
    return tmp_path


def test_deploy_writes_addresses_and_is_idempotent(chain_settings):
    first = run("deploy_contracts")
    addresses = load_addresses()
    assert addresses.registry in first and addresses.ticket_broker in first
    assert "already deployed" in run("deploy_contracts")
    assert load_addresses() == addresses


def test_fund_deposit_funds_and_tops_up(chain_settings):
    run("deploy_contracts")
    assert "deposit 1 ETH, reserve 2 ETH" in run("fund_deposit", "--deposit", "1", "--reserve", "2")
    info = Broker.from_settings().sender_info(address_of(STRANGER_KEY))
    assert (info.deposit, info.reserve) == (1 * ETH, 2 * ETH)
    # Topping up to 1.5 / 2 adds only the missing half ether of deposit.
    assert "deposit 1.5 ETH, reserve 2 ETH" in run("fund_deposit", "--deposit", "1.5", "--reserve", "2", "--top-up")
    # One more gwei of deposit, to the wei, and shown as such.
    out = run("fund_deposit", "--deposit", "1.500000001", "--reserve", "2", "--top-up")
    assert "deposit 1.500000001 ETH, reserve 2 ETH" in out
    assert Broker.from_settings().sender_info(address_of(STRANGER_KEY)).deposit == 1_500_000_001 * 10**9


def test_fund_deposit_rejects_bad_amounts_with_a_clear_error(chain_settings):
    run("deploy_contracts")
    with pytest.raises(CommandError, match="not a non-negative amount of ETH"):
        run("fund_deposit", "--deposit", "0.0000000000000000001")
    with pytest.raises(CommandError, match="is not an amount of ETH"):
        run("fund_deposit", "--deposit", "lots")


def test_register_orchestrator_registers_then_updates_uri_and_stake(chain_settings, monkeypatch):
    run("deploy_contracts")
    monkeypatch.setenv("NODE_KEY", GATEWAY_KEY)
    config = chain_settings / "node.toml"
    body = (
        '[node]\nport = 9935\nservice_uri = "{uri}"\nprivate_key_env = "NODE_KEY"\n\n'
        '[[capabilities]]\npipeline = "text-to-image"\nmodel_id = "m"\n'
        'runners = [{{ url = "http://127.0.0.1:1" }}]\n'
    )
    config.write_text(body.format(uri="https://node.example:9935"))
    out = run("register_orchestrator", "--config", str(config), "--stake", "2")
    assert "stake 2 ETH, active" in out
    config.write_text(body.format(uri="https://moved.example:9935"))
    run("register_orchestrator", "--config", str(config), "--stake", "3")
    broker = Broker.from_settings()
    assert broker.active_orchestrators() == [(address_of(GATEWAY_KEY), "https://moved.example:9935", 3 * ETH)]
