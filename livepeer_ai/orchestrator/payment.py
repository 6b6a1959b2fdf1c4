"""The seam between job handling and payment (protocol §2.3 steps 1, 5, 6, 9).

The node calls these in protocol order; capacity is reserved between
`check_credentials` and `process_payment`, so a job refused for capacity never
touches payment. `OffchainPayments` is go-livepeer's off-chain mode: the node
serves without tickets. Ticket validation on a real chain is issue 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import Request


class PaymentError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Sender:
    address: str


class PaymentProcessor(Protocol):
    def check_credentials(self, request: Request) -> Sender:
        """Decode the payment header and check the caller (402/403 on failure)."""
        ...

    def process_payment(self, request: Request, sender: Sender, fee_wei: int) -> None:
        """Validate tickets and credit the sender's balance (400 on failure)."""
        ...

    def debit(self, sender: Sender, fee_wei: int) -> None:
        """Charge completed work only."""
        ...


@dataclass
class OffchainPayments:
    """Serves without payment, and keeps the ledger of what would have been charged."""

    charged_wei: dict[str, int] = field(default_factory=dict)
    processed: int = 0

    def check_credentials(self, request: Request) -> Sender:
        return Sender(address=request.headers.get("Livepeer-Sender", "offchain"))

    def process_payment(self, request: Request, sender: Sender, fee_wei: int) -> None:
        self.processed += 1

    def debit(self, sender: Sender, fee_wei: int) -> None:
        self.charged_wei[sender.address] = self.charged_wei.get(sender.address, 0) + fee_wei
