from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from eth_utils import to_checksum_address

from livepeer_ai.payments.models import WeiField
from livepeer_ai.protocol.node_info import capabilities_of, runners_of


class UsernameTaken(Exception):
    """An account that is not the node's operator already has the operator's account name."""

    def __init__(self, username: str) -> None:
        super().__init__(f"an account named {username} already exists and is not this node's operator")
        self.username = username


class Operator(models.Model):
    """Someone who runs an orchestrator node: the account its Ethereum address signs in as.

    The address is the node's identity (the key its tickets are made out to and its
    receipts are signed with), so whoever proves control of it sees that node's
    private pages; nothing else links a person to a node.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator")
    # EIP-55 checksummed, so one node never gets two accounts by letter case.
    address = models.CharField(max_length=42, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.address

    @staticmethod
    def username_for(address: str) -> str:
        """The account name of the node at `address`: "operator:0x…". Django's username
        validator refuses the colon, so no public sign-up can take it before the operator."""
        return f"operator:{to_checksum_address(address)}"

    @classmethod
    def for_address(cls, address: str) -> Operator:
        """The operator of `address`, created with a password-less account on first sign-in.

        Raises UsernameTaken when an account not tied to this node already has its name
        (only an admin can make one).
        """
        checksummed = to_checksum_address(address)
        found = cls.objects.select_related("user").filter(address=checksummed).first()
        if found is not None:
            return found
        username = cls.username_for(checksummed)
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(username=username)
                return cls.objects.create(user=user, address=checksummed)
        except IntegrityError:
            # Two first sign-ins racing: the other one made the operator.
            found = cls.objects.select_related("user").filter(address=checksummed).first()
            if found is not None:
                return found
            raise UsernameTaken(username) from None

    @staticmethod
    def of(user: Any) -> Operator | None:
        """The operator record of a signed-in user, or None for members, admins and visitors."""
        if not getattr(user, "is_authenticated", False):
            return None
        try:
            return user.operator
        except Operator.DoesNotExist:
            return None


class SignInNonce(models.Model):
    """A one-time nonce for one Sign-In with Ethereum message (EIP-4361 "Preventing replay attacks").

    Issued for one address, valid until `expires_at`, and consumed by the first
    sign-in that presents it; a replayed message finds it used.
    """

    nonce = models.CharField(max_length=64, unique=True)
    address = models.CharField(max_length=42)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.nonce} for {self.address}"

    @classmethod
    def issue(cls, address: str, ttl: timedelta, now: datetime | None = None) -> SignInNonce:
        now = now or timezone.now()
        # Expired and used nonces only prove replays wrong; a day later they can go.
        cls.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
        return cls.objects.create(
            nonce=secrets.token_hex(16), address=to_checksum_address(address), created_at=now, expires_at=now + ttl
        )

    @classmethod
    def consume(cls, nonce: str, address: str, now: datetime | None = None) -> bool:
        """Mark the nonce used if it was issued here for `address`, is unexpired and unused; one UPDATE, so
        two sign-ins racing with the same message cannot both succeed."""
        now = now or timezone.now()
        updated = cls.objects.filter(
            nonce=nonce, address=to_checksum_address(address), used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        return updated == 1


class NodeSnapshot(models.Model):
    """What the dashboard last fetched from one orchestrator: its /info, its /runners and its stake.

    Refreshed by the `refresh_network` beat task; the pages render from it, so a
    slow or unreachable node never slows a page down.
    """

    orchestrator = models.OneToOneField("gateway.Orchestrator", on_delete=models.CASCADE, related_name="snapshot")
    fetched_at = models.DateTimeField(default=timezone.now)
    reachable = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    info = models.JSONField(default=dict, blank=True)
    # /runners: every runner with its log tail (only from nodes the dashboard holds a token for, or local).
    runners = models.JSONField(default=list, blank=True)
    runners_error = models.TextField(blank=True)
    # From the chain registry; None off chain or when it could not be read.
    stake = WeiField(null=True, blank=True, default=None)
    # In the discovered set (on chain: the registry's active set) at the last refresh.
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.orchestrator} at {self.fetched_at:%H:%M:%S}"

    def capabilities(self) -> list[dict[str, Any]]:
        """/info's capabilities, each runner with its log tail from /runners when there is one."""
        # Checked again on the way out: a row stored by an older dashboard may hold anything.
        log_tails = {runner["id"]: runner.get("log_tail", "") for runner in runners_of(self.runners)}
        found = []
        for capability in capabilities_of(self.info):
            runners = [
                {**runner, "log_tail": log_tails.get(runner["id"], "")} for runner in capability.get("runners", [])
            ]
            states = [runner.get("state", "") for runner in runners]
            slots = capability.get("capacity", 0)
            in_use = capability.get("in_use", 0)
            # The node's own counts (runner_states in /info); counted from its runners for older nodes.
            counted = {
                "healthy": states.count("ready"),
                "restarting": sum(1 for s in states if s in {"starting", "restarting", "unhealthy"}),
                "down": sum(1 for s in states if s in {"failed", "stopped"}),
                "restarts": sum(runner.get("restarts", 0) for runner in runners),
            }
            found.append(
                {
                    **capability,
                    "runners": runners,
                    **counted,
                    **capability.get("runner_states", {}),
                    "slots": slots,
                    "in_use": in_use,
                    "idle": max(0, slots - in_use),
                }
            )
        return found
