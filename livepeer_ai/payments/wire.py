"""Ticket params and payments as they travel: JSON, amounts as decimal strings.

go-livepeer sends `Livepeer-Payment: base64(protobuf Payment{ticket_params,
sender, expiration_params, ticket_sender_params[{sender_nonce, sig}],
expected_price})` (docs/protocol.md §2.3); this is the same message as base64 JSON, so
the fields keep their meaning and a payment stays one header.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from typing import Any

from eth_utils import is_address, to_checksum_address

from livepeer_ai import json_input
from livepeer_ai.payments.tickets import Ticket, aux_data_for

PAYMENT_HEADER = "Livepeer-Payment"
# Set by a node on every answer given after it credited tickets of the request's payment
# (whatever the status: a runner's 400 comes after the payment, and so does a refusal for
# too little balance), to how many it credited, so the gateway books exactly what was taken.
PAYMENT_ACCEPTED_HEADER = "Livepeer-Payment-Accepted"


def tickets_accepted(header: str, sent: int) -> int:
    """How many of the `sent` tickets a node's PAYMENT_ACCEPTED_HEADER says it credited.

    "true" (a node that counts no tickets) means all of them; a count is taken up to what was sent.
    """
    value = header.strip().lower()
    if value == "true":
        return sent
    return min(int(value), sent) if value.isdigit() else 0


class MalformedPayment(ValueError):
    """A payment header that does not decode (HTTP 402)."""


def _uint(raw: Any, name: str) -> int:
    try:
        value = int(str(raw), 10)
    except ValueError:
        raise MalformedPayment(f"{name} must be a decimal integer, got {raw!r}") from None
    if not 0 <= value < 2**256:
        raise MalformedPayment(f"{name} is out of uint256 range")
    return value


def _bytes(raw: Any, name: str, length: int | None = None) -> bytes:
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise MalformedPayment(f"{name} must be 0x-prefixed hex")
    try:
        value = bytes.fromhex(raw[2:])
    except ValueError:
        raise MalformedPayment(f"{name} is not valid hex") from None
    if length is not None and len(value) != length:
        raise MalformedPayment(f"{name} must be {length} bytes, got {len(value)}")
    return value


def _address(raw: Any, name: str) -> str:
    if not isinstance(raw, str) or not is_address(raw):
        raise MalformedPayment(f"{name} must be an Ethereum address")
    return to_checksum_address(raw)


@dataclass(frozen=True)
class TicketParams:
    recipient: str
    face_value: int
    win_prob: int
    recipient_rand_hash: bytes
    seed: int
    expiration_block: int
    creation_round: int
    creation_round_block_hash: bytes
    # The price the params were issued at (go-livepeer binds it into recipientRand).
    price_per_unit: int
    pixels_per_unit: int

    def with_rand_hash(self, rand_hash: bytes) -> TicketParams:
        return replace(self, recipient_rand_hash=rand_hash)

    def ticket(self, sender: str, sender_nonce: int) -> Ticket:
        """The ticket these params make for `sender`'s nonce: a batch shares all else (docs/protocol.md §3.3)."""
        return Ticket(
            recipient=self.recipient,
            sender=sender,
            face_value=self.face_value,
            win_prob=self.win_prob,
            sender_nonce=sender_nonce,
            recipient_rand_hash=self.recipient_rand_hash,
            aux_data=aux_data_for(self.creation_round, self.creation_round_block_hash),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "recipient": self.recipient,
            "face_value": str(self.face_value),
            "win_prob": str(self.win_prob),
            "recipient_rand_hash": "0x" + self.recipient_rand_hash.hex(),
            "seed": str(self.seed),
            "expiration_block": str(self.expiration_block),
            "creation_round": str(self.creation_round),
            "creation_round_block_hash": "0x" + self.creation_round_block_hash.hex(),
            "price_per_unit": str(self.price_per_unit),
            "pixels_per_unit": str(self.pixels_per_unit),
        }

    @classmethod
    def from_json(cls, raw: Any) -> TicketParams:
        if not isinstance(raw, dict):
            raise MalformedPayment("ticket_params must be an object")
        try:
            return cls(
                recipient=_address(raw["recipient"], "recipient"),
                face_value=_uint(raw["face_value"], "face_value"),
                win_prob=_uint(raw["win_prob"], "win_prob"),
                recipient_rand_hash=_bytes(raw["recipient_rand_hash"], "recipient_rand_hash", 32),
                seed=_uint(raw["seed"], "seed"),
                expiration_block=_uint(raw["expiration_block"], "expiration_block"),
                creation_round=_uint(raw["creation_round"], "creation_round"),
                creation_round_block_hash=_bytes(raw["creation_round_block_hash"], "creation_round_block_hash", 32),
                price_per_unit=_uint(raw["price_per_unit"], "price_per_unit"),
                pixels_per_unit=_uint(raw["pixels_per_unit"], "pixels_per_unit"),
            )
        except KeyError as exc:
            raise MalformedPayment(f"ticket_params lacks {exc.args[0]}") from None


@dataclass(frozen=True)
class Payment:
    sender: str
    ticket_params: TicketParams
    # (sender_nonce, 65-byte signature) per ticket; the batch shares the params (docs/protocol.md §3.3).
    tickets: tuple[tuple[int, bytes], ...]

    def encode(self) -> str:
        message = {
            "sender": self.sender,
            "ticket_params": self.ticket_params.to_json(),
            "ticket_sender_params": [
                {"sender_nonce": str(nonce), "sig": "0x" + signature.hex()} for nonce, signature in self.tickets
            ],
        }
        return base64.b64encode(json.dumps(message, separators=(",", ":")).encode()).decode()

    @classmethod
    def decode(cls, header: str) -> Payment:
        try:
            message = json_input.loads(base64.b64decode(header, validate=True))
        except (binascii.Error, ValueError):
            raise MalformedPayment(f"{PAYMENT_HEADER} is not base64 JSON") from None
        if not isinstance(message, dict):
            raise MalformedPayment(f"{PAYMENT_HEADER} must hold an object")
        senders = message.get("ticket_sender_params", [])
        if not isinstance(senders, list) or not all(isinstance(item, dict) for item in senders):
            raise MalformedPayment("ticket_sender_params must be a list of objects")
        try:
            tickets = tuple(
                (_uint(item["sender_nonce"], "sender_nonce"), _bytes(item["sig"], "sig", 65)) for item in senders
            )
        except KeyError as exc:
            raise MalformedPayment(f"ticket_sender_params entry lacks {exc.args[0]}") from None
        return cls(
            sender=_address(message.get("sender"), "sender"),
            ticket_params=TicketParams.from_json(message.get("ticket_params")),
            tickets=tickets,
        )
