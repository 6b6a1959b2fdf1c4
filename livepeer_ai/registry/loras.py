"""LoRAs in the registry: adding them, who sees them, and which a request may name.

A LoRA is curated like a model (registry/curation.py moves it pending → approved →
disabled, with its audit trail). A request names LoRAs with weights in its `loras`
field; `routable_loras` says, before any job exists, whether every one of them is
approved and made for the requested model's base, and `approved_lora_paths` tells a
runner which files it may load.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.db.models import QuerySet

from livepeer_ai.registry.curation import (
    LORA_CREATE_FIELDS,
    CurationForbidden,
    ModelNotRoutable,
    can_curate,
    can_propose,
    create_entry,
    visible_to,
)
from livepeer_ai.registry.models import LORA_BASE_OF_FAMILY, AuditAction, EntryStatus, LoraEntry


def register_lora(
    fields: dict[str, Any], actor: Any = None, status: str = EntryStatus.PENDING, note: str = ""
) -> LoraEntry:
    """A curator's (or the network's own) new LoRA, in the given status."""
    if not can_curate(actor):
        raise CurationForbidden("Only admins may register LoRAs directly; operators propose them.")
    entry = create_entry(LoraEntry, LORA_CREATE_FIELDS, fields, actor, status, AuditAction.CREATED, note, None)
    return cast(LoraEntry, entry)


def propose_lora(user: Any, fields: dict[str, Any], note: str = "") -> LoraEntry:
    """An operator's (or a curator's) LoRA, pending until a curator approves it."""
    if not can_propose(user):
        raise CurationForbidden("Only orchestrator operators and admins may propose LoRAs.")
    entry = create_entry(
        LoraEntry, LORA_CREATE_FIELDS, fields, user, EntryStatus.PENDING, AuditAction.PROPOSED, note, user
    )
    return cast(LoraEntry, entry)


def visible_loras(user: Any) -> QuerySet[LoraEntry]:
    """As for models: approved LoRAs are public; staff see every one, proposers also their own."""
    return visible_to(LoraEntry.objects.select_related("proposed_by"), user)


def approved_loras_for(family: str) -> QuerySet[LoraEntry]:
    """The approved LoRAs a model of `family` takes (none for a family LoRAs do not apply to)."""
    base = LORA_BASE_OF_FAMILY.get(family)
    if base is None:
        return LoraEntry.objects.none()
    return LoraEntry.objects.filter(status=EntryStatus.APPROVED, base=base)


def approved_lora_paths(family: str) -> dict[str, str]:
    """name → local `.safetensors` path of every approved LoRA a model of `family` takes: what a runner may load."""
    return dict(approved_loras_for(family).values_list("name", "local_path"))


def routable_loras(names: Iterable[str], model_id: str, family: str) -> list[LoraEntry]:
    """The approved entries for these LoRA names on a model of `family`, or `ModelNotRoutable` naming the first
    that is not: unknown, not approved, or made for another base model. Always a 400 (a bad value in the request)."""
    wanted = list(names)
    found = {entry.name: entry for entry in LoraEntry.objects.filter(name__in=wanted)}
    entries = []
    for name in wanted:
        entry = found.get(name)
        if entry is None:
            raise ModelNotRoutable("lora_unknown", 400, f"LoRA {name!r} is not in the network's registry.")
        if entry.status == EntryStatus.PENDING:
            raise ModelNotRoutable(
                "lora_not_approved",
                400,
                f"LoRA {name!r} is awaiting approval by the network's curators; it cannot be used until it is approved.",
            )
        if entry.status != EntryStatus.APPROVED:
            raise ModelNotRoutable(
                "lora_not_approved",
                400,
                f"LoRA {name!r} has been disabled by the network's curators; it cannot be used.",
            )
        if not entry.applies_to(family):
            raise ModelNotRoutable(
                "lora_wrong_base",
                400,
                f"LoRA {name!r} is made for {entry.get_base_display()} models; {model_id!r} is not one.",
            )
        entries.append(entry)
    return entries
