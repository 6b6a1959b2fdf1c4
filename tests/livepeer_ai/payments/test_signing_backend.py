"""Tickets and receipts are signed and recovered by libsecp256k1 (coincurve), not eth-keys'
pure-Python fallback, which eth-keys picks silently when coincurve cannot be imported."""

from __future__ import annotations

from eth_keys import KeyAPI
from eth_keys.backends import CoinCurveECCBackend, NativeECCBackend, get_backend
from eth_utils import keccak

from livepeer_ai.payments.tickets import recover_ticket_signer, sign_ticket_hash

KEY = bytes.fromhex("42" * 32)
TICKET_HASH = bytes.fromhex("ab" * 32)


def test_eth_keys_signs_with_libsecp256k1_not_pure_python():
    assert isinstance(get_backend(), CoinCurveECCBackend), (
        f"eth-keys uses {type(get_backend()).__name__}: coincurve is not importable, "
        "so tickets and receipts are signed and checked 18-40x slower (run `make install`)."
    )


def test_a_ticket_signature_is_the_same_as_the_pure_python_backends():
    # Both backends sign deterministically (RFC 6979) with a low s: switching changes no ticket.
    personal_message_hash = keccak(b"\x19Ethereum Signed Message:\n32" + TICKET_HASH)
    pure_python = KeyAPI(NativeECCBackend()).PrivateKey(KEY)
    expected = pure_python.sign_msg_hash(personal_message_hash)
    signature = sign_ticket_hash(TICKET_HASH, KEY)
    assert signature == expected.to_bytes()[:64] + bytes([expected.v + 27])
    assert recover_ticket_signer(TICKET_HASH, signature) == pure_python.public_key.to_checksum_address()
