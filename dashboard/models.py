from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from eth_utils import to_checksum_address


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

    @classmethod
    def for_address(cls, address: str) -> Operator:
        """The operator of `address`, created with a password-less account on first sign-in."""
        checksummed = to_checksum_address(address)
        with transaction.atomic():
            found = cls.objects.select_related("user").filter(address=checksummed).first()
            if found is not None:
                return found
            user = get_user_model().objects.create_user(username=checksummed.lower())
            return cls.objects.create(user=user, address=checksummed)

    @staticmethod
    def of(user: Any) -> Operator | None:
        """The operator record of a signed-in user, or None for members, admins and visitors."""
        if not getattr(user, "is_authenticated", False):
            return None
        try:
            return user.operator
        except Operator.DoesNotExist:
            return None
