"""What each side of a payment remembers.

Orchestrator side (recipient): every ticket received, whether it won and how
its redemption went, and each sender's balance per capability. Gateway side
(sender): the nonce counter per ticket-params commitment and its credit at
each orchestrator.

Amounts are integer wei, often above 2**63, which neither SQLite's INTEGER nor
its NUMERIC holds exactly: `WeiField` stores them as decimal text, zero-padded
so that ordering and range filters on non-negative amounts stay numeric.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

UINT256_DIGITS = 78  # len(str(2**256 - 1))


class WeiField(models.CharField):
    """A signed integer of up to 78 digits, stored as text (non-negative ones zero-padded)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_length"] = UINT256_DIGITS + 1
        kwargs.setdefault("default", 0)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_length", None)
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> int | None:
        return None if value is None else int(value)

    def to_python(self, value: Any) -> int | None:
        if value is None or isinstance(value, int):
            return value
        return int(value)

    def run_validators(self, value: Any) -> None:
        # CharField's length check counts characters: those of the number as stored (a model form's clean).
        super().run_validators(value if value is None else str(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        number = int(value)
        return str(number).zfill(UINT256_DIGITS) if number >= 0 else str(number)


class UsdRateSource(models.TextChoices):
    FEED = "feed", "live ETH/USD feed"
    CONFIGURED = "configured", "configured, not live"


# A rate is stored as USD per ETH × 10**8 (Chainlink's ETH/USD scale) in an integer:
# SQLite would keep a DecimalField as a float.
USD_RATE_SCALE = 8


class UsdRateAtTheTime(models.Model):
    """The ETH/USD rate when the row was made, so its USD value does not move with today's price.
    Null when no rate was known then (no feed, a stale one, nothing configured)."""

    usd_per_eth_e8 = models.PositiveBigIntegerField(null=True, blank=True)
    usd_rate_source = models.CharField(max_length=16, choices=UsdRateSource.choices, blank=True)

    class Meta:
        abstract = True

    @property
    def usd_per_eth(self) -> Decimal | None:
        return None if self.usd_per_eth_e8 is None else Decimal(self.usd_per_eth_e8).scaleb(-USD_RATE_SCALE)


class RedemptionStatus(models.TextChoices):
    NOT_WINNING = "not_winning", "Did not win"
    PENDING = "pending", "Waiting to be redeemed"
    SUBMITTED = "submitted", "Redemption sent"
    REDEEMED = "redeemed", "Redeemed"
    FAILED = "failed", "Redemption failed"
    # Face value at or below the redemption's gas cost: redeeming would lose money (docs/protocol.md §3.2).
    NOT_WORTH_IT = "not_worth_it", "Below redemption cost"


class ReceivedTicket(UsdRateAtTheTime):
    """A valid ticket an orchestrator accepted (invalid ones are refused, never stored)."""

    recipient = models.CharField(max_length=42, db_index=True)
    sender = models.CharField(max_length=42, db_index=True)
    manifest_id = models.CharField(max_length=300)
    face_value = WeiField()
    win_prob = WeiField()
    sender_nonce = models.PositiveIntegerField()
    recipient_rand_hash = models.CharField(max_length=66)
    # The recipient's secret number for this ticket: needed on chain to redeem it.
    recipient_rand = models.CharField(max_length=66)
    aux_data = models.CharField(max_length=130)
    signature = models.CharField(max_length=132)
    ticket_hash = models.CharField(max_length=66, unique=True)
    expected_value = WeiField()
    winning = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    status = models.CharField(max_length=16, choices=RedemptionStatus.choices, default=RedemptionStatus.NOT_WINNING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # No nonce twice under one recipientRand commitment (docs/protocol.md §3.2).
            models.UniqueConstraint(fields=["recipient_rand_hash", "sender_nonce"], name="unique_nonce_per_params"),
        ]
        indexes = [
            # Redemption's due tickets, and the operator's ticket history by status, in time order.
            models.Index(fields=["recipient", "status", "received_at"]),
            # The operator's ticket history, newest first, and the network's redemption feed.
            models.Index(fields=["recipient", "received_at"]),
            models.Index(fields=["status", "redeemed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_hash[:10]} {self.sender[:10]}→{self.recipient[:10]} {self.status}"


class SenderBalance(models.Model):
    """An orchestrator's ledger for one sender and capability: EV received minus work charged."""

    recipient = models.CharField(max_length=42)
    sender = models.CharField(max_length=42)
    manifest_id = models.CharField(max_length=300)
    balance = WeiField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "sender", "manifest_id"], name="one_balance_per_manifest")
        ]


class SenderNonce(models.Model):
    """The gateway's next nonce under one recipientRandHash, shared by all its workers."""

    recipient_rand_hash = models.CharField(max_length=66, unique=True)
    next_nonce = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)


class OrchestratorCredit(models.Model):
    """The gateway's view of its credit at an orchestrator: EV sent minus fees of completed work."""

    sender = models.CharField(max_length=42)
    recipient = models.CharField(max_length=42)
    manifest_id = models.CharField(max_length=300)
    balance = WeiField()
    tickets_sent = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "recipient", "manifest_id"], name="one_credit_per_manifest")
        ]


class EarningsHour(models.Model):
    """One recipient's ticket income in one UTC hour, kept exact where tickets are recorded and redeemed.

    Received and winning amounts count in the hour the ticket arrived, redeemed
    ones in the hour of redemption. Dashboards add up at most 720 of these for
    30 days instead of 100,000 text amounts (which SQLite cannot SUM exactly);
    `payments.earnings.rebuild` recomputes them from the tickets.
    """

    recipient = models.CharField(max_length=42)
    hour = models.DateTimeField()
    tickets = models.PositiveIntegerField(default=0)
    expected_value = WeiField()
    winning_tickets = models.PositiveIntegerField(default=0)
    winning_face_value = WeiField()
    redeemed_tickets = models.PositiveIntegerField(default=0)
    redeemed_value = WeiField()
    redemption_gas = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["hour"]
        constraints = [models.UniqueConstraint(fields=["recipient", "hour"], name="one_earnings_row_per_hour")]

    def __str__(self) -> str:
        return f"{self.recipient} {self.hour:%Y-%m-%d %H}:00"
