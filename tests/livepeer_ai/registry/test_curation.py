"""Curation rules: transitions, who may change what, and an audit record for every change."""

from __future__ import annotations

import pytest

from livepeer_ai.registry import curation
from livepeer_ai.registry.models import AuditAction, EntryStatus, ModelAudit, ModelEntry
from tests.livepeer_ai.registry.conftest import entry_fields

pytestmark = pytest.mark.django_db


def test_an_operators_proposal_starts_pending_with_its_proposer_and_a_full_audit_record(personas):
    entry = curation.propose(personas.operator, entry_fields(), note="fast and cheap")
    assert (entry.status, entry.proposed_by) == (EntryStatus.PENDING, personas.operator)
    (record,) = entry.audit.all()
    assert (record.action, record.actor, record.note) == (AuditAction.PROPOSED, personas.operator, "fast and cheap")
    assert record.changes["model_id"] == [None, "stabilityai/sdxl-turbo"]
    assert record.changes["status"] == [None, "pending"]
    assert record.changes["memory_mb"] == [None, 8000]


@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_members_and_visitors_cannot_propose(personas, who):
    from django.contrib.auth.models import AnonymousUser

    user = AnonymousUser() if who == "anonymous" else personas.member
    with pytest.raises(curation.CurationForbidden, match="operators and admins"):
        curation.propose(user, entry_fields())
    assert not ModelEntry.objects.exists()


def test_a_duplicate_proposal_is_refused_without_a_second_entry(personas, approved_entry):
    with pytest.raises(curation.CurationError, match="already in the registry"):
        curation.propose(personas.other_operator, entry_fields())
    assert ModelEntry.objects.count() == 1
    assert ModelAudit.objects.count() == 1


def test_approve_disable_and_approve_again_each_leave_a_record(personas, pending_entry):
    curation.approve(pending_entry, personas.admin, note="tested on a 4090")
    curation.disable(pending_entry, personas.admin, note="licence question")
    curation.approve(pending_entry, personas.admin)
    pending_entry.refresh_from_db()
    assert pending_entry.status == EntryStatus.APPROVED
    trail = [(r.action, r.changes.get("status"), r.note) for r in pending_entry.audit.order_by("at", "id")]
    assert trail == [
        (AuditAction.PROPOSED, [None, "pending"], "please run it"),
        (AuditAction.STATUS, ["pending", "approved"], "tested on a 4090"),
        (AuditAction.STATUS, ["approved", "disabled"], "licence question"),
        (AuditAction.STATUS, ["disabled", "approved"], ""),
    ]
    assert all(r.actor == personas.admin for r in pending_entry.audit.filter(action=AuditAction.STATUS))


def test_a_pending_proposal_can_be_declined(personas, pending_entry):
    curation.disable(pending_entry, personas.admin, note="not a video model")
    assert ModelEntry.objects.get(pk=pending_entry.pk).status == EntryStatus.DISABLED


@pytest.mark.parametrize(
    ("start", "to"),
    [("approved", "approved"), ("approved", "pending"), ("disabled", "disabled"), ("disabled", "pending")],
)
def test_transitions_that_do_not_exist_are_refused_and_change_nothing(personas, approved_entry, start, to):
    if start == "disabled":
        curation.disable(approved_entry, personas.admin)
    records = ModelAudit.objects.count()
    with pytest.raises(curation.CurationError, match=f"cannot be moved to {to}"):
        curation.change_status(approved_entry, personas.admin, to)
    assert ModelEntry.objects.get(pk=approved_entry.pk).status == start
    assert ModelAudit.objects.count() == records


def test_an_unknown_status_is_refused(personas, approved_entry):
    with pytest.raises(curation.CurationError, match="Unknown status 'retired'"):
        curation.change_status(approved_entry, personas.admin, "retired")


@pytest.mark.parametrize("who", ["operator", "other_operator", "member"])
def test_only_admins_change_status_or_fields(personas, pending_entry, who):
    user = getattr(personas, who)
    with pytest.raises(curation.CurationForbidden):
        curation.approve(pending_entry, user)
    with pytest.raises(curation.CurationForbidden):
        curation.edit(pending_entry, user, {"licence": "mit"})
    with pytest.raises(curation.CurationForbidden):
        curation.register(entry_fields(model_id="x/y"), actor=user)
    pending_entry.refresh_from_db()
    assert (pending_entry.status, pending_entry.licence) == (EntryStatus.PENDING, "sai-nc-community")
    assert pending_entry.audit.count() == 1


def test_an_edit_records_old_and_new_of_each_changed_field_only(personas, approved_entry):
    changes = curation.edit(
        approved_entry,
        personas.admin,
        {"licence": "openrail++", "commercial_use": True, "memory_mb": 8000, "default_parameters": {"steps": 4}},
        note="licence clarified",
    )
    expected = {
        "licence": ["sai-nc-community", "openrail++"],
        "commercial_use": [False, True],
        "default_parameters": [{}, {"steps": 4}],
    }
    assert changes == expected
    record = approved_entry.audit.get(action=AuditAction.EDITED)
    assert (record.changes, record.actor, record.note) == (expected, personas.admin, "licence clarified")
    stored = ModelEntry.objects.get(pk=approved_entry.pk)
    assert (stored.licence, stored.commercial_use, stored.default_parameters) == ("openrail++", True, {"steps": 4})


def test_an_edit_that_changes_nothing_writes_no_record(personas, approved_entry):
    assert curation.edit(approved_entry, personas.admin, {"licence": "sai-nc-community"}) == {}
    assert approved_entry.audit.count() == 1


def test_identity_and_status_cannot_be_edited_as_fields(personas, approved_entry):
    for field in ("model_id", "pipeline", "status"):
        with pytest.raises(curation.CurationError, match="cannot be changed here"):
            curation.edit(approved_entry, personas.admin, {field: "x"})


def test_routable_model_says_why_a_model_cannot_run(personas, approved_entry, pending_entry):
    assert curation.routable_model("text-to-image", "stabilityai/sdxl-turbo") == approved_entry
    with pytest.raises(curation.ModelNotRoutable) as unknown:
        curation.routable_model("text-to-image", "nobody/unknown")
    assert (unknown.value.code, unknown.value.status) == ("model_unknown", 400)
    assert unknown.value.message == "Model 'nobody/unknown' is not available for text-to-image."
    with pytest.raises(curation.ModelNotRoutable) as pending:
        curation.routable_model("text-to-image", "someone/new-model")
    assert (pending.value.code, pending.value.status) == ("model_not_approved", 403)
    assert "awaiting approval" in pending.value.message
    curation.disable(approved_entry, personas.admin)
    with pytest.raises(curation.ModelNotRoutable) as disabled:
        curation.routable_model("text-to-image", "stabilityai/sdxl-turbo")
    assert (disabled.value.code, disabled.value.status) == ("model_not_approved", 403)
    assert disabled.value.message == (
        "Model 'stabilityai/sdxl-turbo' for text-to-image has been disabled by the network's curators; it cannot run."
    )


def test_approved_keys_answers_for_the_asked_pairs_only(personas, approved_entry, pending_entry):
    curation.register(entry_fields(pipeline="image-to-image"), status=EntryStatus.APPROVED)
    asked = {
        ("text-to-image", "stabilityai/sdxl-turbo"),
        ("text-to-image", "someone/new-model"),
        ("upscale", "stabilityai/sdxl-turbo"),
    }
    assert curation.approved_keys(asked) == {("text-to-image", "stabilityai/sdxl-turbo")}
    assert curation.approved_keys([]) == set()


def test_visibility_approved_for_everyone_pending_for_staff_and_the_proposer(personas, approved_entry, pending_entry):
    from django.contrib.auth.models import AnonymousUser

    def ids(user):
        return set(curation.visible_entries(user).values_list("pk", flat=True))

    both = {approved_entry.pk, pending_entry.pk}
    assert ids(AnonymousUser()) == {approved_entry.pk}
    assert ids(personas.member) == {approved_entry.pk}
    assert ids(personas.other_operator) == {approved_entry.pk}
    assert ids(personas.operator) == both
    assert ids(personas.admin) == both
