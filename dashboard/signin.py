"""Operators sign in by signing an EIP-4361 message with their orchestrator's key.

The site writes the message (this domain, the sign-in page's URI, the chain, a
single-use nonce), the operator's wallet or `manage.py operator_login_link`
signs it, and `sign_in_operator` checks it all and returns the Operator of the
address that signed. Only addresses the site knows as orchestrators (or that
have signed in before) may sign in, so a stranger's key creates no account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from eth_utils import is_address, to_checksum_address

from dashboard.models import Operator, SignInNonce, UsernameTaken
from dashboard.siwe import SiweError, SiweMessage, verify
from livepeer_ai.gateway.models import Orchestrator

NONCE_TTL = timedelta(minutes=10)
STATEMENT = "Sign in to the livepeer-ai operator dashboard as this orchestrator."


class SignInRefused(Exception):
    """Why a sign-in cannot go on, and the HTTP status that says so."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Site:
    """What a login message is bound to: this site's host and its sign-in page."""

    domain: str
    uri: str
    scheme: str

    @classmethod
    def of(cls, request: HttpRequest) -> Site:
        return cls(
            domain=request.get_host(),
            uri=request.build_absolute_uri(reverse("dashboard-login")),
            scheme=request.scheme or "http",
        )


def checksummed(address: str) -> str:
    if not is_address(address):
        raise SignInRefused(f"{address!r} is not an Ethereum address")
    return to_checksum_address(address)


def may_sign_in(address: str) -> bool:
    return (
        Orchestrator.objects.filter(address__iexact=address).exists()
        or Operator.objects.filter(address=address).exists()
    )


def message_for(address: str, site: Site, now: datetime | None = None) -> SiweMessage:
    """A fresh message for `address` to sign, carrying a new single-use nonce."""
    address = checksummed(address)
    if not may_sign_in(address):
        raise SignInRefused(f"{address} is not the address of any orchestrator this site knows", status=403)
    # Whole seconds: the message writes times to the second, and must agree with the nonce's expiry.
    now = (now or timezone.now()).replace(microsecond=0)
    nonce = SignInNonce.issue(address, NONCE_TTL, now)
    return SiweMessage(
        domain=site.domain,
        address=address,
        statement=STATEMENT,
        uri=site.uri,
        chain_id=settings.CHAIN_ID,
        nonce=nonce.nonce,
        issued_at=now,
        expiration_time=nonce.expires_at,
    )


def sign_in_operator(text: str, signature: str, site: Site, now: datetime | None = None) -> Operator:
    """The Operator whose key signed this message for this site; SignInRefused says why not."""
    now = now or timezone.now()
    try:
        message = verify(
            text, signature, domain=site.domain, uri=site.uri, chain_id=settings.CHAIN_ID, now=now, scheme=site.scheme
        )
    except SiweError as exc:
        raise SignInRefused(str(exc)) from None
    # Checked after the signature, so nobody can burn another operator's nonce.
    if not SignInNonce.consume(message.nonce, message.address, now):
        raise SignInRefused(
            "this sign-in message was not issued here, has expired or was already used; ask for a new one"
        )
    if not may_sign_in(message.address):
        raise SignInRefused(f"{message.address} is not the address of any orchestrator this site knows", status=403)
    try:
        return Operator.for_address(message.address)
    except UsernameTaken as exc:
        raise SignInRefused(f"{exc}; ask the site's admins to rename or remove it", status=409) from None
