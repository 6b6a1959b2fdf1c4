"""The ETH/USD rate that amounts are shown in dollars with.

Read from a Chainlink-style feed (AggregatorV3Interface: `decimals()` and
`latestRoundData()`) at ETH_USD_FEED_ADDRESS, or at the feed `deploy_contracts`
wrote beside the payment contracts. A feed's answer counts only while it is
fresh: an answer older than ETH_USD_FEED_MAX_AGE_S, from an unfinished round,
not positive, or a feed that cannot be read gives no rate at all, with the
reason, rather than an old price passed off as today's. Only where no feed is
configured does ETH_USD_PRICE stand in, labelled "configured, not live".

A rate is a Decimal with 8 places (Chainlink's ETH/USD scale), never a float;
rows that keep it (`UsdRateAtTheTime`) store it as an integer × 10**8.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from web3 import Web3
from web3.exceptions import Web3Exception

from livepeer_ai.payments.broker import load_addresses
from livepeer_ai.payments.chain import Chain, ChainError
from livepeer_ai.payments.models import USD_RATE_SCALE, UsdRateSource

USD_PER_ETH_QUANTUM = Decimal(1).scaleb(-USD_RATE_SCALE)

FEED = UsdRateSource.FEED.value
CONFIGURED = UsdRateSource.CONFIGURED.value
NO_RATE = "none"
FEED_READ_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class EthUsdRate:
    """USD per ETH, where it came from, and a note that says so to a reader."""

    usd_per_eth: Decimal | None
    source: str  # FEED, CONFIGURED or NO_RATE
    note: str
    updated_at: datetime | None = None

    @property
    def known(self) -> bool:
        return self.usd_per_eth is not None

    @property
    def live(self) -> bool:
        return self.source == FEED

    def recorded(self) -> dict[str, Any]:
        """The fields of a `UsdRateAtTheTime` row made now: the rate as an integer × 10**8, and its source."""
        if self.usd_per_eth is None:
            return {"usd_per_eth_e8": None, "usd_rate_source": ""}
        return {"usd_per_eth_e8": int(self.usd_per_eth.scaleb(USD_RATE_SCALE)), "usd_rate_source": self.source}


def no_rate(reason: str) -> EthUsdRate:
    return EthUsdRate(None, NO_RATE, f"no USD price: {reason}")


def configured_rate(usd_per_eth: Decimal) -> EthUsdRate:
    return EthUsdRate(usd_per_eth.quantize(USD_PER_ETH_QUANTUM), CONFIGURED, "configured, not live")


def feed_answer(usd_per_eth: str, decimals: int) -> int:
    """'3012.45' USD per ETH → the feed's integer answer (3012.45 × 10**decimals), exactly or ValueError."""
    try:
        price = Decimal(usd_per_eth.strip())
    except InvalidOperation:
        raise ValueError(f"{usd_per_eth!r} is not a price in USD per ETH (e.g. 3012.45)") from None
    if not price.is_finite() or price <= 0:
        raise ValueError(f"an ETH/USD price must be positive, got {usd_per_eth!r}")
    answer = price.scaleb(decimals)
    if answer != answer.to_integral_value():
        raise ValueError(f"{usd_per_eth!r} has more than the feed's {decimals} decimals")
    return int(answer)


def read_feed(chain: Chain, address: str, max_age_s: int) -> EthUsdRate:
    """The feed's latest answer if it is fresh; otherwise no rate and why.

    Age is measured against the latest block's timestamp: `updatedAt` is chain
    time, and comparing chain time with chain time needs no trust in the host's clock.
    """
    try:
        checksum = Web3.to_checksum_address(address)
    except ValueError:
        return no_rate(f"ETH/USD feed address {address!r} is not an address")
    try:
        if not chain.w3.eth.get_code(checksum):
            return no_rate(f"no contract at the ETH/USD feed address {checksum}")
        feed = chain.eth_usd_feed(checksum)
        decimals = int(feed.functions.decimals().call())
        round_id, answer, _started_at, updated_at, answered_in_round = feed.functions.latestRoundData().call()
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
    except (ChainError, Web3Exception, requests.RequestException, ValueError, OverflowError) as error:
        return no_rate(f"the ETH/USD feed at {checksum} cannot be read ({type(error).__name__}: {error})")
    if updated_at == 0 or answered_in_round < round_id:
        return no_rate(f"the ETH/USD feed's round {round_id} is not complete")
    if answer <= 0:
        return no_rate(f"the ETH/USD feed answers {answer}, not a price")
    age_s = now - int(updated_at)
    if age_s > max_age_s:
        return no_rate(f"the ETH/USD feed's answer is {age_s} s old (limit {max_age_s} s)")
    usd_per_eth = Decimal(int(answer)).scaleb(-decimals).quantize(USD_PER_ETH_QUANTUM, ROUND_HALF_EVEN)
    return EthUsdRate(
        usd_per_eth,
        FEED,
        f"live, ETH/USD feed at {checksum}, {max(age_s, 0)} s old",
        updated_at=datetime.fromtimestamp(int(updated_at), UTC),
    )


def configured_feed_address() -> str:
    """ETH_USD_FEED_ADDRESS, or the feed `deploy_contracts` wrote; empty when there is none."""
    if settings.ETH_USD_FEED_ADDRESS:
        return str(settings.ETH_USD_FEED_ADDRESS)
    if not settings.WEB3_PROVIDER_URI:
        return ""
    try:
        return load_addresses().eth_usd_feed
    except (ChainError, KeyError, ValueError):
        return ""


def rate_from_settings() -> EthUsdRate:
    address = configured_feed_address()
    if address:
        if not settings.WEB3_PROVIDER_URI:
            return no_rate("ETH_USD_FEED_ADDRESS is set but WEB3_PROVIDER_URI is not")
        # Pages wait on this read: a short timeout, and a failed read is cached like any other.
        return read_feed(
            Chain(settings.WEB3_PROVIDER_URI, request_timeout_s=FEED_READ_TIMEOUT_S),
            address,
            settings.ETH_USD_FEED_MAX_AGE_S,
        )
    if settings.ETH_USD_PRICE is not None:
        return configured_rate(settings.ETH_USD_PRICE)
    return no_rate("no ETH/USD feed or ETH_USD_PRICE is configured")


_cache_lock = threading.Lock()
_cached: tuple[tuple[object, ...], float, EthUsdRate] | None = None


def current_rate() -> EthUsdRate:
    """The rate now, read at most once per ETH_USD_CACHE_S for the same settings."""
    global _cached
    key = (
        settings.WEB3_PROVIDER_URI,
        settings.ETH_USD_FEED_ADDRESS,
        settings.CHAIN_ADDRESSES_FILE,
        settings.ETH_USD_FEED_MAX_AGE_S,
        settings.ETH_USD_PRICE,
    )
    with _cache_lock:
        if _cached is not None and _cached[0] == key and time.monotonic() < _cached[1]:
            return _cached[2]
    rate = rate_from_settings()
    with _cache_lock:
        _cached = (key, time.monotonic() + settings.ETH_USD_CACHE_S, rate)
    return rate
