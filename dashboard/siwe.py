"""Sign-In with Ethereum (EIP-4361): build, parse and verify login messages.

Written here rather than taken from the `siwe` package because siwe 4.4 pins
web3<8 and eth-account<0.14, which conflict with the versions the payments code
needs. Only externally owned accounts are supported (EIP-191 `personal_sign`);
EIP-1271 contract wallets are not.

The parser follows the specification's ABNF line by line and refuses anything
else; `verify` then checks the terms against what this site expects and
recovers the signer. Whether the nonce was issued here and is still unused is
the caller's business (`SignInNonce.consume`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address, to_checksum_address

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
# Longest message accepted: the spec leaves maximum lengths to implementers (Security
# Considerations); ours are a few hundred bytes.
MAX_MESSAGE_LENGTH = 4096
# Tolerated clock difference between the signer and this server for Issued At / Not Before.
CLOCK_SKEW = timedelta(seconds=60)

# RFC 3986 character classes the ABNF is built from.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_RESERVED = r":/?#\[\]@" + _SUB_DELIMS
_PCT = r"%[0-9A-Fa-f]{2}"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_AUTHORITY = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@\[\]]|{_PCT})+"
_URI = rf"{_SCHEME}:(?:[{_UNRESERVED}{_RESERVED}]|{_PCT})+"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
# RFC 3339 date-time (T and Z are case-insensitive there).
_DATE_TIME = r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"

_MESSAGE = re.compile(
    rf"(?:(?P<scheme>{_SCHEME})://)?(?P<domain>{_AUTHORITY}){re.escape(HEADER_SUFFIX)}\n"
    r"(?P<address>0x[0-9a-fA-F]{40})\n"
    r"\n"
    rf"(?:(?P<statement>[{_UNRESERVED}{_RESERVED} ]+)\n)?"
    r"\n"
    rf"URI: (?P<uri>{_URI})\n"
    r"Version: (?P<version>[^\n]*)\n"
    r"Chain ID: (?P<chain_id>[0-9]+)\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,})\n"
    rf"Issued At: (?P<issued_at>{_DATE_TIME})"
    rf"(?:\nExpiration Time: (?P<expiration_time>{_DATE_TIME}))?"
    rf"(?:\nNot Before: (?P<not_before>{_DATE_TIME}))?"
    rf"(?:\nRequest ID: (?P<request_id>{_PCHAR}*))?"
    rf"(?:\nResources:(?P<resources>(?:\n- {_URI})*))?"
)
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")


class SiweError(ValueError):
    """A login message or signature that must be refused; the text says why."""


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with whole seconds, e.g. 2026-11-29T12:00:00Z."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    normalized = text.upper().replace("Z", "+00:00")
    # datetime.fromisoformat takes at most six fraction digits.
    normalized = re.sub(r"(\.\d{6})\d+", r"\1", normalized)
    try:
        moment = datetime.fromisoformat(normalized)
    except ValueError:
        raise SiweError(f"{text!r} is not a valid RFC 3339 date-time") from None
    # In UTC from here on: a time near the calendar's ends with an offset (9999-12-31T23:59:59-01:00)
    # parses, but would overflow wherever it is compared or shown.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise SiweError(f"{text!r} is out of range: in UTC it falls outside years 1 to 9999") from None


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    version: str = "1"
    scheme: str | None = None
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)

    def text(self) -> str:
        """The message exactly as the ABNF lays it out: what the wallet shows and signs."""
        prefix = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [prefix + HEADER_SUFFIX, self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {format_time(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {format_time(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {format_time(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        if len(text) > MAX_MESSAGE_LENGTH:
            raise SiweError(f"the message is longer than {MAX_MESSAGE_LENGTH} characters")
        found = _MESSAGE.fullmatch(text)
        if found is None:
            raise SiweError("the message is not an EIP-4361 Sign-In with Ethereum message")
        terms = found.groupdict()
        address = terms["address"]
        # EIP-55: a mixed-case address must carry a valid checksum; all-lower or
        # all-upper hex has none to check.
        hex_part = address[2:]
        if hex_part != hex_part.lower() and hex_part != hex_part.upper() and not is_checksum_address(address):
            raise SiweError(f"address {address} has an invalid EIP-55 checksum")
        resources = tuple(line[2:] for line in (terms["resources"] or "").split("\n") if line)
        return cls(
            domain=terms["domain"],
            address=to_checksum_address(address),
            uri=terms["uri"],
            chain_id=int(terms["chain_id"]),
            nonce=terms["nonce"],
            issued_at=parse_time(terms["issued_at"]),
            statement=terms["statement"],
            version=terms["version"],
            scheme=terms["scheme"],
            expiration_time=parse_time(terms["expiration_time"]) if terms["expiration_time"] else None,
            not_before=parse_time(terms["not_before"]) if terms["not_before"] else None,
            request_id=terms["request_id"],
            resources=resources,
        )


def recover_signer(text: str, signature: str) -> str:
    """The EIP-55 address whose key made this EIP-191 `personal_sign` signature of `text`."""
    if not _SIGNATURE.fullmatch(signature):
        raise SiweError("the signature must be 65 bytes of hex (0x followed by 130 hex digits)")
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=bytes.fromhex(signature[2:])))
    except Exception as exc:  # noqa: BLE001 - eth_keys raises several types for a bad signature
        raise SiweError(f"the signature cannot be recovered: {exc}") from None


def verify(
    text: str,
    signature: str,
    *,
    domain: str,
    uri: str,
    chain_id: int,
    now: datetime,
    scheme: str | None = None,
) -> SiweMessage:
    """Parse `text`, check every term against this site, and check who signed it.

    Raises SiweError with the first reason to refuse. Does not look at the nonce.
    """
    message = SiweMessage.parse(text)
    if message.domain != domain:
        raise SiweError(f"the message is for {message.domain}, but this site is {domain}")
    if message.scheme is not None and scheme is not None and message.scheme != scheme:
        raise SiweError(f"the message is for {message.scheme}://, but this site is {scheme}://")
    if message.uri != uri:
        raise SiweError(f"the message's URI is {message.uri}, expected {uri}")
    if message.version != "1":
        raise SiweError(f"unsupported message version {message.version!r} (only 1)")
    if message.chain_id != chain_id:
        raise SiweError(f"the message is for chain {message.chain_id}, but this site uses chain {chain_id}")
    if message.issued_at > now + CLOCK_SKEW:
        raise SiweError("the message was issued in the future")
    if message.expiration_time is not None and message.expiration_time <= now:
        raise SiweError("the message has expired; ask for a new one")
    if message.not_before is not None and message.not_before > now + CLOCK_SKEW:
        raise SiweError("the message is not valid yet (Not Before)")
    signer = recover_signer(text, signature)
    if signer != message.address:
        raise SiweError(f"the message names {message.address}, but it was signed by {signer}")
    return message
