from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from dashboard.siwe import SiweError, SiweMessage, recover_signer, verify
from tests.conftest import OPERATOR_KEY, OTHER_OPERATOR_KEY

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
ACCOUNT = Account.from_key(OPERATOR_KEY)

# The specification's example, with every optional term.
SPEC_EXAMPLE = (
    "service.org wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ServiceOrg Terms of Service: https://service.org/tos\n"
    "\n"
    "URI: https://service.org/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Expiration Time: 2021-10-01T16:25:24Z\n"
    "Not Before: 2021-09-30T16:25:24Z\n"
    "Request ID: 7ab3-f1\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json"
)


def message(**changes: object) -> SiweMessage:
    base = SiweMessage(
        domain="127.0.0.1:8000",
        address=ACCOUNT.address,
        uri="http://127.0.0.1:8000/dashboard/login/",
        chain_id=31337,
        nonce="abcdEFGH1234",
        issued_at=NOW,
        statement="Sign in to the operator dashboard.",
        expiration_time=NOW + timedelta(minutes=10),
    )
    return replace(base, **changes)


def sign(text: str, key: str = OPERATOR_KEY) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), private_key=key).signature).hex()


def check(text: str, signature: str, now: datetime = NOW) -> SiweMessage:
    return verify(
        text,
        signature,
        domain="127.0.0.1:8000",
        uri="http://127.0.0.1:8000/dashboard/login/",
        chain_id=31337,
        now=now,
    )


def test_parses_the_specifications_example_with_every_term():
    parsed = SiweMessage.parse(SPEC_EXAMPLE)
    assert parsed.domain == "service.org"
    assert parsed.statement == "I accept the ServiceOrg Terms of Service: https://service.org/tos"
    assert parsed.chain_id == 1
    assert parsed.nonce == "32891756"
    assert parsed.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert parsed.expiration_time == datetime(2021, 10, 1, 16, 25, 24, tzinfo=UTC)
    assert parsed.request_id == "7ab3-f1"
    assert parsed.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )
    assert parsed.text() == SPEC_EXAMPLE


def test_builds_the_abnf_layout_with_and_without_a_statement():
    with_statement = message().text()
    assert with_statement.splitlines()[:5] == [
        "127.0.0.1:8000 wants you to sign in with your Ethereum account:",
        ACCOUNT.address,
        "",
        "Sign in to the operator dashboard.",
        "",
    ]
    assert with_statement.endswith("Issued At: 2026-11-29T12:00:00Z\nExpiration Time: 2026-11-29T12:10:00Z")
    without = message(statement=None).text()
    # No statement: the two blank lines of the ABNF stay, with nothing between them.
    assert f"{ACCOUNT.address}\n\n\nURI: " in without
    assert SiweMessage.parse(without) == message(statement=None)
    assert SiweMessage.parse(with_statement) == message()


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf-lines"),
        pytest.param(lambda t: t.replace("URI: ", "uri: "), id="lowercase-term"),
        pytest.param(lambda t: t.replace("Nonce: abcdEFGH1234", "Nonce: abc123"), id="nonce-under-8"),
        pytest.param(lambda t: t.replace("Nonce: abcdEFGH1234", "Nonce: abcd-EFGH"), id="nonce-not-alnum"),
        pytest.param(lambda t: t.replace("dashboard.\n", "dashboard.\nsecond line\n"), id="two-line-statement"),
        pytest.param(lambda t: t.replace("Sign in", "Sign\u00e9 in"), id="non-ascii-statement"),
        pytest.param(lambda t: t.replace("Chain ID: 31337\n", ""), id="missing-chain-id"),
        pytest.param(lambda t: t.replace("Issued At: 2026-11-29T12:00:00Z", "Issued At: yesterday"), id="bad-date"),
        pytest.param(lambda t: t + "\n", id="trailing-newline"),
        pytest.param(lambda t: "x" * 5000, id="too-long"),
        pytest.param(lambda t: t.replace(ACCOUNT.address, ACCOUNT.address[:-1]), id="short-address"),
    ],
)
def test_refuses_text_that_does_not_follow_the_abnf(broken):
    with pytest.raises(SiweError):
        SiweMessage.parse(broken(message().text()))


def with_term(text: str, term: str, value: str) -> str:
    return "\n".join(f"{term}: {value}" if line.startswith(f"{term}: ") else line for line in text.split("\n"))


@pytest.mark.parametrize("term", ["Issued At", "Expiration Time", "Not Before"])
@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_refuses_a_time_that_leaves_the_calendar_in_utc(term, moment):
    text = with_term(message(not_before=NOW).text(), term, moment)
    assert moment in text
    with pytest.raises(SiweError, match="out of range"):
        SiweMessage.parse(text)


def test_times_with_an_offset_are_read_in_utc():
    text = message().text().replace("Issued At: 2026-11-29T12:00:00Z", "Issued At: 2026-11-29T13:30:00+01:30")
    issued_at = SiweMessage.parse(text).issued_at
    assert issued_at == NOW and issued_at.utcoffset() == timedelta(0)


def test_refuses_an_address_with_a_wrong_checksum():
    address = ACCOUNT.address
    first_letter = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    mangled = address[:first_letter] + address[first_letter].swapcase() + address[first_letter + 1 :]
    with pytest.raises(SiweError, match="checksum"):
        SiweMessage.parse(message().text().replace(address, mangled))
    # All-lowercase hex carries no checksum and is accepted.
    assert SiweMessage.parse(message().text().replace(address, address.lower())).address == address


def test_verifies_a_message_signed_by_its_address():
    text = message().text()
    verified = check(text, sign(text))
    assert verified.address == ACCOUNT.address
    assert recover_signer(text, sign(text)) == ACCOUNT.address


def test_accepts_an_optional_scheme_and_fractional_times():
    text = message().text().replace("127.0.0.1:8000 wants", "http://127.0.0.1:8000 wants")
    text = text.replace("Issued At: 2026-11-29T12:00:00Z", "Issued At: 2026-11-29T12:00:00.123456789Z")
    parsed = check(text, sign(text))
    assert parsed.scheme == "http"
    assert parsed.issued_at == NOW.replace(microsecond=123456)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"domain": "evil.example"}, "this site is 127.0.0.1:8000"),
        ({"uri": "http://127.0.0.1:8000/elsewhere/"}, "URI"),
        ({"chain_id": 1}, "chain 1"),
        ({"version": "2"}, "version"),
        ({"expiration_time": NOW - timedelta(seconds=1)}, "expired"),
        ({"not_before": NOW + timedelta(hours=1)}, "not valid yet"),
        ({"issued_at": NOW + timedelta(hours=1)}, "future"),
    ],
)
def test_refuses_a_validly_signed_message_for_another_site_time_or_chain(changes, reason):
    text = message(**changes).text()
    with pytest.raises(SiweError, match=reason):
        check(text, sign(text))


def test_refuses_a_message_signed_by_another_key():
    text = message().text()
    other = Account.from_key(OTHER_OPERATOR_KEY).address
    with pytest.raises(SiweError, match=f"signed by {other}"):
        check(text, sign(text, OTHER_OPERATOR_KEY))


def test_refuses_a_message_altered_after_signing():
    text = message().text()
    signature = sign(text)
    altered = text.replace("Nonce: abcdEFGH1234", "Nonce: abcdEFGH9999")
    with pytest.raises(SiweError, match="signed by"):
        check(altered, signature)


@pytest.mark.parametrize("signature", ["", "0x1234", "0x" + "zz" * 65, "0x" + "00" * 65])
def test_refuses_a_malformed_or_unrecoverable_signature(signature):
    with pytest.raises(SiweError, match="signature"):
        check(message().text(), signature)
