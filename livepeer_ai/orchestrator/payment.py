"""The seam between job handling and payment (docs/protocol.md §2.3 steps 1, 5, 6, 9).

The node calls these in protocol order; capacity is reserved between
`check_credentials` and `process_payment`, so a job refused for capacity never
touches payment, and `debit` runs only for work that completed.

- `OffchainPayments`: go-livepeer's off-chain mode, the node serves without tickets.
- `OnchainPayments`: tickets validated and credited by `payments.recipient`,
  winners redeemed on chain by a background thread.

The node calls these from worker threads (they touch the DB and the chain).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import close_old_connections
from starlette.requests import Request

from livepeer_ai.messages import CHAIN_UNAVAILABLE
from livepeer_ai.payments.chain import ChainError, ChainUnavailable
from livepeer_ai.payments.recipient import PaymentRejected, Recipient
from livepeer_ai.payments.redemption import redeem_winning_tickets
from livepeer_ai.payments.wire import PAYMENT_HEADER, MalformedPayment, Payment
from livepeer_ai.protocol.units import manifest_id  # noqa: F401 - where tests/livepeer_ai/payments import it

logger = logging.getLogger(__name__)

REDEEM_INTERVAL_S = 5.0


class PaymentError(Exception):
    """A payment refused: `code` says why to a machine (CHAIN_UNAVAILABLE), `tickets_recorded` how many
    of the payment's tickets were credited before the refusal (the node says so: docs/protocol.md §3.3)."""

    def __init__(self, status: int, message: str, code: str = "", tickets_recorded: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.tickets_recorded = tickets_recorded


def chain_unavailable(exc: ChainUnavailable) -> PaymentError:
    return PaymentError(503, f"chain unavailable: {exc}", CHAIN_UNAVAILABLE)


@dataclass(frozen=True)
class Sender:
    address: str
    payment: Payment | None = None


class PaymentProcessor(Protocol):
    def check_credentials(self, request: Request) -> Sender:
        """Decode the payment header and check the caller (402/403 on failure)."""
        ...

    def process_payment(self, sender: Sender, fee_wei: int, manifest: str) -> int:
        """Validate tickets and credit the sender's balance (400 on failure); returns the tickets recorded."""
        ...

    def debit(self, sender: Sender, fee_wei: int, manifest: str) -> None:
        """Charge completed work only."""
        ...

    def ticket_params(
        self, sender: str, price_per_unit: int, pixels_per_unit: int, manifest: str
    ) -> dict[str, Any] | None:
        """Params a sender pays this node with and its balance here, or None off chain."""
        ...


@dataclass
class OffchainPayments:
    """Serves without payment, and keeps the ledger of what would have been charged."""

    charged_wei: dict[str, int] = field(default_factory=dict)
    processed: int = 0

    def check_credentials(self, request: Request) -> Sender:
        return Sender(address=request.headers.get("Livepeer-Sender", "offchain"))

    def process_payment(self, sender: Sender, fee_wei: int, manifest: str) -> int:
        self.processed += 1
        return 0

    def debit(self, sender: Sender, fee_wei: int, manifest: str) -> None:
        self.charged_wei[sender.address] = self.charged_wei.get(sender.address, 0) + fee_wei

    def ticket_params(
        self, sender: str, price_per_unit: int, pixels_per_unit: int, manifest: str
    ) -> dict[str, Any] | None:
        return None


@dataclass
class OnchainPayments:
    recipient: Recipient
    account_key: str
    redeem_interval_s: float = REDEEM_INTERVAL_S
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def check_credentials(self, request: Request) -> Sender:
        header = request.headers.get(PAYMENT_HEADER, "")
        if not header:
            raise PaymentError(402, f"missing {PAYMENT_HEADER} header: this orchestrator is paid with tickets")
        try:
            payment = Payment.decode(header)
        except MalformedPayment as exc:
            raise PaymentError(402, f"could not decode payment: {exc}") from None
        return Sender(address=payment.sender, payment=payment)

    def process_payment(self, sender: Sender, fee_wei: int, manifest: str) -> int:
        assert sender.payment is not None
        try:
            if not self.recipient.broker.is_active(self.recipient.address):
                raise PaymentRejected("this orchestrator is not in the active set; it accepts no tickets")
            self.recipient.receive(sender.payment, manifest)
            recorded = len(sender.payment.tickets)
            balance = self.recipient.balance(sender.address, manifest)
        except PaymentRejected as exc:
            raise PaymentError(400, exc.message, tickets_recorded=exc.tickets_recorded) from None
        except ChainUnavailable as exc:
            raise chain_unavailable(exc) from None
        except ChainError as exc:
            raise PaymentError(400, f"could not check the payment on chain: {exc}") from None
        finally:
            close_old_connections()
        if fee_wei > 0 and balance < fee_wei:
            # Stricter than go-livepeer's "≥ one ticket's EV": the balance must cover this job.
            raise PaymentError(
                400,
                f"Insufficient balance: {balance} wei credited, the job costs {fee_wei} wei",
                tickets_recorded=recorded,
            )
        return recorded

    def debit(self, sender: Sender, fee_wei: int, manifest: str) -> None:
        try:
            self.recipient.debit(sender.address, manifest, fee_wei)
        finally:
            close_old_connections()

    def ticket_params(
        self, sender: str, price_per_unit: int, pixels_per_unit: int, manifest: str
    ) -> dict[str, Any] | None:
        try:
            params = self.recipient.ticket_params(sender, price_per_unit, pixels_per_unit).to_json()
            # The sender's credit here: what its next batch need not cover (docs/protocol.md §3.3's
            # existing credit, as this node's ledger has it).
            return {"ticket_params": params, "balance": str(self.recipient.balance(sender, manifest))}
        except PaymentRejected as exc:
            raise PaymentError(400, exc.message) from None
        except ChainUnavailable as exc:
            raise chain_unavailable(exc) from None
        except ChainError as exc:
            raise PaymentError(500, f"the node could not read its ticket params from the chain: {exc}") from None
        finally:
            close_old_connections()

    # Redemption

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._redeem_forever, name="ticket-redeemer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _redeem_forever(self) -> None:
        while not self._stop.wait(self.redeem_interval_s):
            try:
                redeem_winning_tickets(
                    self.recipient.address, self.recipient.broker, self.account_key, self.recipient.redeem_gas
                )
            except Exception:  # the loop must outlive any one bad pass
                logger.exception("ticket redemption pass failed")
            finally:
                close_old_connections()
