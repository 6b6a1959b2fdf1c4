"""The ticket format of docs/protocol.md §3.1, in pure Python (no chain needed)."""

from __future__ import annotations

import math
import random

import pytest
from eth_account import Account
from eth_utils import keccak, to_canonical_address

from livepeer_ai.payments.tickets import (
    MAX_WIN_PROB,
    SECP256K1_N,
    InvalidTicketSignature,
    Ticket,
    aux_data_for,
    expected_value,
    is_winning_ticket,
    recipient_rand_hash,
    recover_ticket_signer,
    sign_ticket_hash,
    ticket_hash,
)

SENDER_KEY = "0x" + "42" * 32
SENDER = Account.from_key(SENDER_KEY).address
RECIPIENT = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F"
ZERO_ADDRESS = "0x" + "00" * 20


def make_ticket(**overrides: object) -> Ticket:
    values: dict[str, object] = {
        "recipient": RECIPIENT,
        "sender": SENDER,
        "face_value": 10**15,
        "win_prob": MAX_WIN_PROB // 100,
        "sender_nonce": 7,
        "recipient_rand_hash": recipient_rand_hash(99),
        "aux_data": aux_data_for(12, b"\xab" * 32),
    }
    values.update(overrides)
    return Ticket(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recipient", "face_value", "win_prob", "sender_nonce", "rand_hash", "expected"),
    [
        # go-livepeer pm/ticket_test.go TestHash: a ticket with no auxData (creation
        # round 0 and zero block hash) hashes to these; ours must too.
        (ZERO_ADDRESS, 0, 0, 2**64 - 1, b"\0" * 32, "24d4264d5ea56ba4362c8f535308005b2df1f9f77c34b4a61f6b5c3bef151b53"),
        (ZERO_ADDRESS, 0, 0, 1, b"\0" * 32, "ce0918ba94518293e9712effbe5fca4f1f431089833a5b8c257cb1e024595f68"),
        (ZERO_ADDRESS, 1, 500, 0, b"\0" * 32, "87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd"),
        (RECIPIENT, 0, 0, 0, b"\0" * 32, "81e353ae39046e2b77b9f996abbaeed527fda559b61ef90f299c4499dd508ccc"),
        (
            ZERO_ADDRESS,
            0,
            0,
            0,
            bytes.fromhex("41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d"),
            "be5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17",
        ),
    ],
)
def test_hash_matches_go_livepeer_test_vectors(
    recipient: str, face_value: int, win_prob: int, sender_nonce: int, rand_hash: bytes, expected: str
) -> None:
    ticket = Ticket(recipient, ZERO_ADDRESS, face_value, win_prob, sender_nonce, rand_hash, b"")
    assert ticket_hash(ticket).hex() == expected


def test_hash_is_keccak_of_the_232_packed_bytes() -> None:
    ticket = make_ticket(face_value=2**255 + 3, win_prob=MAX_WIN_PROB, sender_nonce=2**200)
    packed = (
        to_canonical_address(ticket.recipient)
        + to_canonical_address(ticket.sender)
        + ticket.face_value.to_bytes(32, "big")
        + ticket.win_prob.to_bytes(32, "big")
        + ticket.sender_nonce.to_bytes(32, "big")
        + ticket.recipient_rand_hash
        + ticket.aux_data
    )
    assert len(packed) == 232
    assert ticket_hash(ticket) == keccak(packed)


def test_every_field_changes_the_hash() -> None:
    base = make_ticket()
    variants = [
        make_ticket(recipient=SENDER),
        make_ticket(sender=RECIPIENT),
        make_ticket(face_value=base.face_value + 1),
        make_ticket(win_prob=base.win_prob + 1),
        make_ticket(sender_nonce=base.sender_nonce + 1),
        make_ticket(recipient_rand_hash=recipient_rand_hash(100)),
        make_ticket(aux_data=aux_data_for(13, b"\xab" * 32)),
    ]
    hashes = {ticket_hash(ticket) for ticket in variants}
    assert len(hashes) == len(variants) and ticket_hash(base) not in hashes


def test_aux_data_is_creation_round_then_block_hash() -> None:
    aux = aux_data_for(258, b"\x11" * 32)
    assert aux == (258).to_bytes(32, "big") + b"\x11" * 32
    ticket = make_ticket(aux_data=aux)
    assert (ticket.creation_round, ticket.creation_round_block_hash) == (258, b"\x11" * 32)


def test_addresses_are_checksummed_whatever_the_input_case() -> None:
    ticket = make_ticket(recipient=RECIPIENT.lower())
    assert ticket.recipient == RECIPIENT


@pytest.mark.parametrize(
    "overrides",
    [
        {"face_value": -1},
        {"face_value": 2**256},
        {"win_prob": 0.5},
        {"sender_nonce": True},
        {"recipient": "0x1234"},
        {"recipient_rand_hash": b"\0" * 31},
        {"aux_data": b"\0" * 63},
    ],
)
def test_rejects_malformed_fields(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_ticket(**overrides)


def test_signature_is_eip191_personal_sign_with_v_27_or_28() -> None:
    digest = ticket_hash(make_ticket())
    signature = sign_ticket_hash(digest, SENDER_KEY)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2
    assert recover_ticket_signer(digest, signature) == SENDER
    # The same key signing another ticket is recovered as the same sender,
    # while a signature moved onto another ticket recovers somebody else.
    other = ticket_hash(make_ticket(sender_nonce=8))
    assert recover_ticket_signer(other, signature) != SENDER


def test_recover_rejects_the_high_s_twin_of_a_valid_signature() -> None:
    digest = ticket_hash(make_ticket())
    signature = sign_ticket_hash(digest, SENDER_KEY)
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with pytest.raises(InvalidTicketSignature, match="s is zero or above"):
        recover_ticket_signer(digest, twin)


@pytest.mark.parametrize("length", [0, 64, 66])
def test_recover_rejects_a_signature_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidTicketSignature, match="must be 65 bytes"):
        recover_ticket_signer(b"\0" * 32, b"\1" * length)


def test_recover_rejects_v_other_than_27_or_28() -> None:
    digest = ticket_hash(make_ticket())
    signature = sign_ticket_hash(digest, SENDER_KEY)
    with pytest.raises(InvalidTicketSignature, match="v must be 27 or 28"):
        recover_ticket_signer(digest, signature[:64] + bytes([signature[64] - 27]))


def test_win_test_compares_keccak_of_sig_and_padded_rand_with_win_prob() -> None:
    signature = sign_ticket_hash(ticket_hash(make_ticket()), SENDER_KEY)
    draw = int.from_bytes(keccak(signature + (99).to_bytes(32, "big")), "big")
    assert not is_winning_ticket(signature, 99, draw)  # strictly less than
    assert is_winning_ticket(signature, 99, draw + 1)
    assert not is_winning_ticket(signature, 99, 0)


def test_expected_value_is_whole_wei_rounded_down() -> None:
    assert expected_value(10**18, MAX_WIN_PROB) == 10**18
    assert expected_value(10**18, 0) == 0
    # (2^256 − 1) is 5 mod 10, so MAX_WIN_PROB // 10 is a hair under a tenth.
    assert expected_value(10**18, MAX_WIN_PROB // 10) == 10**17 - 1
    win_prob = MAX_WIN_PROB // 1000 + 1
    assert expected_value(10**18, win_prob) == 10**18 * win_prob // MAX_WIN_PROB
    assert isinstance(expected_value(3, MAX_WIN_PROB // 7), int)


def test_recipient_rand_hash_is_keccak_of_the_32_byte_rand() -> None:
    assert recipient_rand_hash(1) == keccak(b"\0" * 31 + b"\1")
    with pytest.raises(ValueError):
        recipient_rand_hash(-1)


def test_win_rate_at_one_in_ten_lies_within_five_sigma() -> None:
    """20,000 draws: 400 signed tickets, each tested against 50 recipientRands.

    Signing is ~4 ms in pure Python, so the draws reuse signatures; every
    (signature, recipientRand) pair is a distinct keccak input, which is what
    the win test's uniformity rests on (docs/protocol.md §3.1).
    """
    rng = random.Random(20261121)
    win_prob = MAX_WIN_PROB // 10
    signatures = [sign_ticket_hash(ticket_hash(make_ticket(sender_nonce=nonce)), SENDER_KEY) for nonce in range(400)]
    rands = [rng.getrandbits(256) for _ in range(50)]
    draws = len(signatures) * len(rands)
    wins = sum(is_winning_ticket(signature, rand, win_prob) for signature in signatures for rand in rands)
    p = win_prob / MAX_WIN_PROB
    mean, sigma = draws * p, math.sqrt(draws * p * (1 - p))
    assert draws == 20_000
    assert abs(wins - mean) <= 5 * sigma, (wins, mean, sigma)
