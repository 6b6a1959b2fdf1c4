"""Livepeer's probabilistic-micropayment ticket: fields, hash, signature, win test.

Everything here is byte-for-byte what go-livepeer (pm/ticket.go, pm/validator.go,
crypto/verify.go) and the TicketBroker contract compute, docs/protocol.md §3.1, so a
ticket made here could be checked by Livepeer's own code. Money is integer wei
and probabilities are integers over MAX_WIN_PROB; there are no floats.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, keccak, to_canonical_address, to_checksum_address

UINT256_MAX = 2**256 - 1
# winProb is a fraction of 2^256 − 1 (docs/protocol.md §3.1).
MAX_WIN_PROB = UINT256_MAX
AUX_DATA_LENGTH = 64
SIGNATURE_LENGTH = 65
# secp256k1 group order; a signature with s above n/2 is the malleable twin of
# a valid one, which go-livepeer and the broker reject (EIP-2).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2


class InvalidTicketSignature(ValueError):
    """A ticket signature that is malformed or that no honest signer produces."""


def _require_uint256(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        raise ValueError(f"{name} must be an integer in [0, 2**256 - 1], got {value!r}")


def _require_bytes(name: str, value: bytes, lengths: tuple[int, ...]) -> None:
    if not isinstance(value, bytes) or len(value) not in lengths:
        expected = " or ".join(str(length) for length in lengths)
        raise ValueError(f"{name} must be {expected} bytes, got {value!r}")


@dataclass(frozen=True)
class Ticket:
    """A lottery ticket from a sender (gateway) to a recipient (orchestrator), docs/protocol.md §3.1.

    Addresses are normalised to their checksummed form. `aux_data` is the 64
    bytes of `aux_data_for`; go-livepeer leaves it empty when both creation
    round and block hash are zero, which hashes alike but never redeems.
    """

    recipient: str
    sender: str
    face_value: int
    win_prob: int
    sender_nonce: int
    recipient_rand_hash: bytes
    aux_data: bytes

    def __post_init__(self) -> None:
        for name in ("recipient", "sender"):
            address = getattr(self, name)
            if not isinstance(address, str) or not is_address(address):
                raise ValueError(f"{name} must be a 20-byte hex address, got {address!r}")
            object.__setattr__(self, name, to_checksum_address(address))
        _require_uint256("face_value", self.face_value)
        _require_uint256("win_prob", self.win_prob)
        _require_uint256("sender_nonce", self.sender_nonce)
        _require_bytes("recipient_rand_hash", self.recipient_rand_hash, (32,))
        _require_bytes("aux_data", self.aux_data, (0, AUX_DATA_LENGTH))

    @property
    def creation_round(self) -> int:
        return int.from_bytes(self.aux_data[:32], "big")

    @property
    def creation_round_block_hash(self) -> bytes:
        return self.aux_data[32:]

    def as_contract_tuple(self) -> tuple[str, str, int, int, int, bytes, bytes]:
        """The TicketBroker's `Ticket` struct, in ABI field order."""
        return (
            self.recipient,
            self.sender,
            self.face_value,
            self.win_prob,
            self.sender_nonce,
            self.recipient_rand_hash,
            self.aux_data,
        )


def aux_data_for(creation_round: int, creation_round_block_hash: bytes) -> bytes:
    """uint256 creationRound ‖ bytes32 creationRoundBlockHash (docs/protocol.md §3.1)."""
    _require_uint256("creation_round", creation_round)
    _require_bytes("creation_round_block_hash", creation_round_block_hash, (32,))
    return creation_round.to_bytes(32, "big") + creation_round_block_hash


def ticket_hash(ticket: Ticket) -> bytes:
    """keccak256(abi.encodePacked(recipient, sender, faceValue, winProb, senderNonce,
    recipientRandHash, auxData)): 20+20+32+32+32+32+64 = 232 bytes (docs/protocol.md §3.1)."""
    packed = b"".join(
        (
            to_canonical_address(ticket.recipient),
            to_canonical_address(ticket.sender),
            ticket.face_value.to_bytes(32, "big"),
            ticket.win_prob.to_bytes(32, "big"),
            ticket.sender_nonce.to_bytes(32, "big"),
            ticket.recipient_rand_hash,
            ticket.aux_data,
        )
    )
    return keccak(packed)


def sign_ticket_hash(digest: bytes, private_key: str | bytes) -> bytes:
    """EIP-191 personal signature over the 32-byte hash: r ‖ s ‖ v, v ∈ {27, 28} (docs/protocol.md §3.1).

    eth-account signs deterministically (RFC 6979) and always with a low s.
    """
    _require_bytes("ticket hash", digest, (32,))
    signed = Account.sign_message(encode_defunct(primitive=digest), private_key=private_key)
    return bytes(signed.signature)


def recover_ticket_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed `digest`.

    Raises InvalidTicketSignature for a length other than 65, a v other than
    27/28, or a high s, as go-livepeer's crypto.VerifySig and the broker do.
    """
    _require_bytes("ticket hash", digest, (32,))
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
        length = len(signature) if isinstance(signature, bytes) else type(signature).__name__
        raise InvalidTicketSignature(f"ticket signature must be {SIGNATURE_LENGTH} bytes, got {length}")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidTicketSignature(f"ticket signature v must be 27 or 28, got {v}")
    if s == 0 or s > SECP256K1_HALF_N:
        raise InvalidTicketSignature("ticket signature s is zero or above secp256k1 n/2 (malleable)")
    try:
        signer = Account.recover_message(encode_defunct(primitive=digest), signature=signature)
    except Exception as error:  # eth-keys raises several types for points off the curve
        raise InvalidTicketSignature(f"ticket signature does not recover: {error}") from error
    return to_checksum_address(signer)


def is_winning_ticket(signature: bytes, recipient_rand: int, win_prob: int) -> bool:
    """uint256(keccak256(sig ‖ uint256(recipientRand))) < winProb (docs/protocol.md §3.1)."""
    _require_bytes("signature", signature, (SIGNATURE_LENGTH,))
    _require_uint256("recipient_rand", recipient_rand)
    _require_uint256("win_prob", win_prob)
    draw = int.from_bytes(keccak(signature + recipient_rand.to_bytes(32, "big")), "big")
    return draw < win_prob


def expected_value(face_value: int, win_prob: int) -> int:
    """faceValue × winProb / (2^256 − 1) in whole wei, rounded down (docs/protocol.md §3.1).

    go-livepeer keeps the exact fraction (big.Rat); rounding down never
    credits a sender with value it did not send.
    """
    _require_uint256("face_value", face_value)
    _require_uint256("win_prob", win_prob)
    return face_value * win_prob // MAX_WIN_PROB


def recipient_rand_hash(recipient_rand: int) -> bytes:
    """keccak256(pad32(recipientRand)): the recipient's commitment (docs/protocol.md §3.2)."""
    _require_uint256("recipient_rand", recipient_rand)
    return keccak(recipient_rand.to_bytes(32, "big"))
