"""Model curation: who may add, change and approve registry entries, and what the network may route.

Every change to an entry goes through these functions, each in one transaction
with its audit record, so the trail in `ModelAudit` (`LoraAudit` for LoRAs) is complete whether the
change came from the dashboard, the Django admin or a management command.

Routing asks one question, `routable_model(pipeline, model_id)`: the gateway's
API before it creates a job, the dispatcher before it sends a stage, and any
caller (the studio) that wants to refuse early. Orchestrator nodes ask
`approved_keys` for the capabilities they may advertise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from livepeer_ai.registry.models import AuditAction, EntryStatus, LoraEntry, ModelEntry

# A curated entry: a model, or a LoRA applied on top of one (registry/loras.py). Both
# change only through the functions below, each change with its audit record.
Entry = ModelEntry | LoraEntry

# What a curator may change after creation; (pipeline, model_id) is the entry's identity.
EDITABLE_FIELDS = (
    "family",
    "pinned_revision",
    "local_path",
    "licence",
    "commercial_use",
    "nsfw_level",
    "max_side",
    "memory_mb",
    "default_parameters",
    "runner_version",
)
CREATE_FIELDS = ("pipeline", "model_id", *EDITABLE_FIELDS)
# A LoRA's identity is its name.
LORA_EDITABLE_FIELDS = (
    "base",
    "local_path",
    "description",
    "pinned_revision",
    "licence",
    "commercial_use",
    "nsfw_level",
)
LORA_CREATE_FIELDS = ("name", *LORA_EDITABLE_FIELDS)


def editable_fields(entry: Entry) -> tuple[str, ...]:
    return LORA_EDITABLE_FIELDS if isinstance(entry, LoraEntry) else EDITABLE_FIELDS


# pending → approved | disabled (declined); approved → disabled; disabled → approved.
TRANSITIONS: dict[str, frozenset[str]] = {
    EntryStatus.PENDING: frozenset({EntryStatus.APPROVED, EntryStatus.DISABLED}),
    EntryStatus.APPROVED: frozenset({EntryStatus.DISABLED}),
    EntryStatus.DISABLED: frozenset({EntryStatus.APPROVED}),
}


class CurationError(Exception):
    """A change the registry refuses: a transition that does not exist, or a duplicate entry."""


class CurationForbidden(CurationError):
    """The actor may not make this change."""


class ModelNotRoutable(Exception):
    """The network will not run this model; `message` says why in plain words.

    `code` is the job's error code; `status` the HTTP status the public API answers with:
    400 for a model the registry does not know (a bad value, like any other), 403 for a
    known model the curators have not approved (the request is understood and refused by
    policy, and retrying will not help until a curator approves it).
    """

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


# -- who may do what ----------------------------------------------------------------


# Who besides staff may propose a model. The registry knows only users; the apps above it
# that know other roles (the dashboard's node operators) register a check for them at
# start-up, so the registry imports nothing above it.
_PROPOSER_CHECKS: list[Callable[[Any], bool]] = []


def allow_proposals_from(check: Callable[[Any], bool]) -> None:
    """Let the users `check` accepts propose models (called once per app in `AppConfig.ready`)."""
    if check not in _PROPOSER_CHECKS:
        _PROPOSER_CHECKS.append(check)


def can_curate(user: Any) -> bool:
    """Staff curate; `None` is the network itself (a management command or migration)."""
    return user is None or bool(getattr(user, "is_authenticated", False) and user.is_staff)


def can_propose(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_staff) or any(check(user) for check in _PROPOSER_CHECKS)


def visible_entries(user: Any) -> QuerySet[ModelEntry]:
    """Approved entries are public; staff see every entry, proposers also their own."""
    return visible_to(ModelEntry.objects.select_related("proposed_by"), user)


def visible_to(entries: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """Of these curated entries (models or LoRAs), the ones `user` may see."""
    if getattr(user, "is_authenticated", False) and user.is_staff:
        return entries
    visible = Q(status=EntryStatus.APPROVED)
    if getattr(user, "is_authenticated", False):
        visible |= Q(proposed_by=user)
    return entries.filter(visible)


# -- changes, each with its audit record ----------------------------------------------


def _record(entry: Entry, actor: Any, action: str, changes: dict[str, Any], note: str) -> Any:
    # ModelAudit for a model, LoraAudit for a LoRA: each entry's trail is its `audit`.
    return entry.audit.create(actor=actor, action=action, changes=changes, note=note)


def _create(fields: dict[str, Any], actor: Any, status: str, action: str, note: str, proposer: Any) -> ModelEntry:
    return cast(ModelEntry, create_entry(ModelEntry, CREATE_FIELDS, fields, actor, status, action, note, proposer))


def create_entry(
    model: type[Entry],
    create_fields: tuple[str, ...],
    fields: dict[str, Any],
    actor: Any,
    status: str,
    action: str,
    note: str,
    proposer: Any,
) -> Entry:
    """A new model or LoRA entry and its first audit record, in one transaction."""
    unknown = set(fields) - set(create_fields)
    if unknown:
        raise CurationError(f"Not registry fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = model.objects.create(**fields, status=status, proposed_by=proposer)
        except IntegrityError:
            raise CurationError(f"{_identity(model, fields)} is already in the registry.") from None
        changes = {name: [None, getattr(entry, name)] for name in (*create_fields, "status")}
        _record(entry, actor, action, changes, note)
    return entry


def _identity(model: type[Entry], fields: dict[str, Any]) -> str:
    if model is LoraEntry:
        return f"LoRA {fields['name']!r}"
    return f"{fields['pipeline']} {fields['model_id']!r}"


def propose(user: Any, fields: dict[str, Any], note: str = "") -> ModelEntry:
    """An operator's (or a curator's) proposal: a new entry, pending until a curator approves it."""
    if not can_propose(user):
        raise CurationForbidden("Only orchestrator operators and admins may propose models.")
    return _create(fields, user, EntryStatus.PENDING, AuditAction.PROPOSED, note, proposer=user)


def register(
    fields: dict[str, Any], actor: Any = None, status: str = EntryStatus.PENDING, note: str = ""
) -> ModelEntry:
    """A curator's (or the network's own) new entry, in the given status."""
    if not can_curate(actor):
        raise CurationForbidden("Only admins may register models directly; operators propose them.")
    return _create(fields, actor, status, AuditAction.CREATED, note, proposer=None)


def edit(entry: Entry, actor: Any, fields: dict[str, Any], note: str = "") -> dict[str, list[Any]]:
    """Change some of an entry's fields; returns what changed (old → new), also written to the trail."""
    if not can_curate(actor):
        raise CurationForbidden("Only admins may change registry entries.")
    not_editable = set(fields) - set(editable_fields(entry))
    if not_editable:
        raise CurationError(f"These fields cannot be changed here: {', '.join(sorted(not_editable))}")
    with transaction.atomic():
        locked = type(entry).objects.select_for_update().get(pk=entry.pk)
        changes = {
            name: [getattr(locked, name), value] for name, value in fields.items() if getattr(locked, name) != value
        }
        if not changes:
            return {}
        for name, (_old, new) in changes.items():
            setattr(locked, name, new)
        locked.save(update_fields=[*changes, "updated_at"])
        _record(locked, actor, AuditAction.EDITED, changes, note)
    for name, (_old, new) in changes.items():
        setattr(entry, name, new)
    return changes


def change_status(entry: Entry, actor: Any, to: str, note: str = "") -> Entry:
    """Move an entry along pending → approved → disabled (→ approved again), or refuse with the reason."""
    if not can_curate(actor):
        raise CurationForbidden("Only admins may approve or disable models.")
    if to not in EntryStatus.values:
        raise CurationError(f"Unknown status {to!r}; expected one of {', '.join(EntryStatus.values)}.")
    with transaction.atomic():
        # Locked, so two curators acting at once see each other's change, not a stale status.
        locked = type(entry).objects.select_for_update().get(pk=entry.pk)
        if to not in TRANSITIONS[locked.status]:
            raise CurationError(f"{locked} is {locked.get_status_display().lower()}; it cannot be moved to {to}.")
        old = locked.status
        locked.status = to
        locked.save(update_fields=["status", "updated_at"])
        _record(locked, actor, AuditAction.STATUS, {"status": [old, to]}, note)
    entry.status, entry.updated_at = locked.status, locked.updated_at
    return entry


def approve(entry: Entry, actor: Any, note: str = "") -> Entry:
    return change_status(entry, actor, EntryStatus.APPROVED, note)


def disable(entry: Entry, actor: Any, note: str = "") -> Entry:
    return change_status(entry, actor, EntryStatus.DISABLED, note)


# -- routing -----------------------------------------------------------------------


def routable_model(pipeline: str, model_id: str) -> ModelEntry:
    """The approved entry for (pipeline, model_id), or `ModelNotRoutable` saying why not."""
    entry = ModelEntry.objects.filter(pipeline=pipeline, model_id=model_id).first()
    if entry is None:
        raise ModelNotRoutable("model_unknown", 400, f"Model {model_id!r} is not available for {pipeline}.")
    if entry.status == EntryStatus.PENDING:
        raise ModelNotRoutable(
            "model_not_approved",
            403,
            f"Model {model_id!r} for {pipeline} is awaiting approval by the network's curators; "
            "it cannot run until it is approved.",
        )
    if entry.status != EntryStatus.APPROVED:
        raise ModelNotRoutable(
            "model_not_approved",
            403,
            f"Model {model_id!r} for {pipeline} has been disabled by the network's curators; it cannot run.",
        )
    return entry


def approved_keys(keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (pipeline, model_id) pairs are approved, in one query."""
    wanted = set(keys)
    if not wanted:
        return set()
    rows = ModelEntry.objects.filter(
        status=EntryStatus.APPROVED,
        pipeline__in={p for p, _ in wanted},
        model_id__in={m for _, m in wanted},
    ).values_list("pipeline", "model_id")
    return {key for key in rows if key in wanted}
