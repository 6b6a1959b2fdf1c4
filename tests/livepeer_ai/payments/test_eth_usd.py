"""The ETH/USD rate: the feed contract and its reader on a real anvil, the configured
fallback, and the commands that deploy the feed and move its price."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from livepeer_ai.payments.chain import ContractReverted
from livepeer_ai.payments.eth_usd import (
    CONFIGURED,
    FEED,
    NO_RATE,
    current_rate,
    feed_answer,
    rate_from_settings,
    read_feed,
)
from livepeer_ai.settings import envdecimal
from tests.livepeer_ai.payments.conftest import DEPLOYER_KEY, STRANGER_KEY, Payments

MAX_AGE_S = 3600


def deploy_feed(payments: Payments, answer: int, decimals: int = 8) -> str:
    return payments.chain.deploy_eth_usd_feed(DEPLOYER_KEY, answer, decimals=decimals)


def updated_at(payments: Payments, address: str) -> int:
    return int(payments.chain.eth_usd_feed(address).functions.latestRoundData().call()[3])


def mine_at(payments: Payments, timestamp: int) -> None:
    payments.rpc("evm_setNextBlockTimestamp", hex(timestamp))
    payments.mine(1)


def run(*args: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_reads_the_answer_scaled_by_the_feeds_decimals(payments):
    eight = deploy_feed(payments, 3012_45000000, decimals=8)
    eighteen = deploy_feed(payments, 3012_450000000000000000, decimals=18)
    for address in (eight, eighteen):
        rate = read_feed(payments.chain, address, MAX_AGE_S)
        assert (rate.usd_per_eth, rate.source) == (Decimal("3012.45000000"), FEED)
        assert rate.live and address in rate.note
    # Rounded to the 8 places a rate keeps, never through a float.
    odd = deploy_feed(payments, 1_234567891, decimals=9)
    assert read_feed(payments.chain, odd, MAX_AGE_S).usd_per_eth == Decimal("1.23456789")


def test_an_answer_older_than_the_bound_is_no_rate(payments):
    address = deploy_feed(payments, 3000_00000000)
    set_at = updated_at(payments, address)
    mine_at(payments, set_at + MAX_AGE_S)
    assert read_feed(payments.chain, address, MAX_AGE_S).usd_per_eth == Decimal("3000")
    mine_at(payments, set_at + MAX_AGE_S + 1)
    stale = read_feed(payments.chain, address, MAX_AGE_S)
    assert (stale.usd_per_eth, stale.source) == (None, NO_RATE)
    assert f"{MAX_AGE_S + 1} s old (limit {MAX_AGE_S} s)" in stale.note
    # A new answer is fresh again.
    payments.chain.transact(payments.chain.eth_usd_feed(address).functions.setAnswer(3100_00000000), DEPLOYER_KEY)
    assert read_feed(payments.chain, address, MAX_AGE_S).usd_per_eth == Decimal("3100")


def test_only_the_admin_sets_a_positive_answer(payments):
    address = deploy_feed(payments, 3000_00000000)
    feed = payments.chain.eth_usd_feed(address)
    with pytest.raises(ContractReverted, match="only the admin sets the answer"):
        payments.chain.transact(feed.functions.setAnswer(1), STRANGER_KEY)
    with pytest.raises(ContractReverted, match="answer must be positive"):
        payments.chain.transact(feed.functions.setAnswer(0), DEPLOYER_KEY)
    payments.chain.transact(feed.functions.setAnswer(2999_99000000), DEPLOYER_KEY)
    round_id, answer, _, _, answered_in = feed.functions.latestRoundData().call()
    assert (round_id, answer, answered_in) == (2, 2999_99000000, 2)
    assert feed.functions.getRoundData(1).call()[1] == 3000_00000000


def test_no_contract_at_the_address_is_no_rate(payments):
    empty = "0x000000000000000000000000000000000000dEaD"
    assert "no contract at the ETH/USD feed address" in read_feed(payments.chain, empty, MAX_AGE_S).note
    assert "is not an address" in read_feed(payments.chain, "0x1234", MAX_AGE_S).note


def test_without_a_feed_the_configured_price_is_labelled_as_such(settings):
    settings.WEB3_PROVIDER_URI = settings.ETH_USD_FEED_ADDRESS = ""
    settings.ETH_USD_PRICE = Decimal("2500.5")
    rate = rate_from_settings()
    assert (rate.usd_per_eth, rate.source, rate.note) == (Decimal("2500.50000000"), CONFIGURED, "configured, not live")
    assert not rate.live
    settings.ETH_USD_PRICE = None
    nothing = rate_from_settings()
    assert (nothing.usd_per_eth, nothing.source) == (None, NO_RATE)
    assert nothing.note == "no USD price: no ETH/USD feed or ETH_USD_PRICE is configured"


def test_a_stale_feed_is_not_replaced_by_the_configured_price(payments, anvil, settings):
    address = deploy_feed(payments, 3000_00000000)
    settings.WEB3_PROVIDER_URI, settings.ETH_USD_FEED_ADDRESS = anvil.url, address
    settings.ETH_USD_PRICE = Decimal("2500")
    assert rate_from_settings().source == FEED
    mine_at(payments, updated_at(payments, address) + settings.ETH_USD_FEED_MAX_AGE_S + 1)
    assert rate_from_settings().source == NO_RATE


def test_the_rate_is_read_once_per_cache_period(payments, anvil, settings):
    address = deploy_feed(payments, 3000_00000000)
    settings.WEB3_PROVIDER_URI, settings.ETH_USD_FEED_ADDRESS = anvil.url, address
    settings.ETH_USD_CACHE_S = 60
    assert current_rate().usd_per_eth == Decimal("3000")
    payments.chain.transact(payments.chain.eth_usd_feed(address).functions.setAnswer(3300_00000000), DEPLOYER_KEY)
    assert current_rate().usd_per_eth == Decimal("3000")
    settings.ETH_USD_CACHE_S = 0
    assert current_rate().usd_per_eth == Decimal("3000")  # the cached entry lives out its minute
    settings.ETH_USD_FEED_MAX_AGE_S = MAX_AGE_S - 1  # other settings, another entry
    assert current_rate().usd_per_eth == Decimal("3300")


@pytest.fixture
def chain_settings(anvil: Any, payments: Any, settings: Any, tmp_path: Path, monkeypatch: Any) -> Path:
    settings.WEB3_PROVIDER_URI = anvil.url
    settings.CHAIN_ADDRESSES_FILE = str(tmp_path / "chain.json")
    settings.TICKET_BROKER_ADDRESS = settings.ORCHESTRATOR_REGISTRY_ADDRESS = settings.ETH_USD_FEED_ADDRESS = ""
    settings.ETH_USD_CACHE_S = 0
    monkeypatch.setenv("DEPLOYER_PRIVATE_KEY", DEPLOYER_KEY)
    return tmp_path / "chain.json"


def test_deploy_contracts_deploys_the_demo_feed_and_the_command_moves_its_price(chain_settings, monkeypatch):
    out = run("deploy_contracts")
    feed_address = json.loads(chain_settings.read_text())["eth_usd_feed"]
    assert f"EthUsdFeed {feed_address}" in out
    assert rate_from_settings().usd_per_eth == Decimal("3000")
    assert "ETH/USD 3125.50000000 (live" in run("set_eth_usd_price", "3125.5")
    assert rate_from_settings().usd_per_eth == Decimal("3125.5")
    with pytest.raises(CommandError, match="more than the feed's 8 decimals"):
        run("set_eth_usd_price", "3125.000000001")
    with pytest.raises(CommandError, match="must be positive"):
        run("set_eth_usd_price", "-1")
    monkeypatch.setenv("DEPLOYER_PRIVATE_KEY", STRANGER_KEY)
    with pytest.raises(CommandError, match="only the admin sets the answer"):
        run("set_eth_usd_price", "1")
    assert "already deployed" in run("deploy_contracts")


def test_deploy_contracts_adds_the_feed_to_a_deployment_made_before_it(chain_settings):
    run("deploy_contracts")
    before = json.loads(chain_settings.read_text())
    chain_settings.write_text(json.dumps({key: before[key] for key in ("chain_id", "registry", "ticket_broker")}))
    out = run("deploy_contracts", "--eth-usd-price", "2000")
    after = json.loads(chain_settings.read_text())
    assert (after["registry"], after["ticket_broker"]) == (before["registry"], before["ticket_broker"])
    assert after["eth_usd_feed"] not in ("", before["eth_usd_feed"]) and after["eth_usd_feed"] in out
    assert rate_from_settings().usd_per_eth == Decimal("2000")


def test_prices_are_parsed_exactly_or_refused(monkeypatch):
    assert feed_answer("3012.45", 8) == 301245000000
    assert feed_answer("1e3", 8) == 1000_00000000
    for bad in ("lots", "0", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            feed_answer(bad, 8)
    monkeypatch.setenv("ETH_USD_PRICE", "3000,5")
    with pytest.raises(ImproperlyConfigured, match="ETH_USD_PRICE must be a decimal number"):
        envdecimal("ETH_USD_PRICE")
    monkeypatch.setenv("ETH_USD_PRICE", "-3")
    with pytest.raises(ImproperlyConfigured, match="must be a positive decimal"):
        envdecimal("ETH_USD_PRICE")
    monkeypatch.setenv("ETH_USD_PRICE", "3000.5")
    assert envdecimal("ETH_USD_PRICE") == Decimal("3000.5")
