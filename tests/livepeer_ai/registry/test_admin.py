"""The Django admin changes the registry through curation: actions and saves leave the same trail."""

from __future__ import annotations

import pytest

from livepeer_ai.registry.models import AuditAction, EntryStatus, ModelEntry

CHANGELIST = "/admin/registry/modelentry/"


def test_admin_actions_approve_and_disable_through_curation(client, personas, approved_entry, pending_entry):
    client.force_login(personas.admin)
    ids = [str(approved_entry.pk), str(pending_entry.pk)]
    client.post(CHANGELIST, {"action": "disable_selected", "_selected_action": ids})
    assert set(ModelEntry.objects.values_list("status", flat=True)) == {EntryStatus.DISABLED}
    response = client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": ids}, follow=True)
    assert set(ModelEntry.objects.values_list("status", flat=True)) == {EntryStatus.APPROVED}
    assert "2 entries now approved." in [str(m) for m in response.context["messages"]]
    for entry in (approved_entry, pending_entry):
        last = entry.audit.filter(action=AuditAction.STATUS).order_by("-at", "-id").first()
        assert (last.changes, last.actor, last.note) == (
            {"status": ["disabled", "approved"]},
            personas.admin,
            "Django admin action",
        )


def test_an_action_that_cannot_apply_says_why_and_applies_to_the_rest(client, personas, approved_entry, pending_entry):
    client.force_login(personas.admin)
    response = client.post(
        CHANGELIST,
        {"action": "approve_selected", "_selected_action": [str(approved_entry.pk), str(pending_entry.pk)]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("cannot be moved to approved" in m for m in messages)
    assert ModelEntry.objects.get(pk=pending_entry.pk).status == EntryStatus.APPROVED


def form_data(entry, **changes):
    data = {
        "family": entry.family,
        "pinned_revision": entry.pinned_revision,
        "local_path": entry.local_path,
        "licence": entry.licence,
        "nsfw_level": entry.nsfw_level,
        "max_side": entry.max_side,
        "memory_mb": entry.memory_mb,
        "default_parameters": "{}",
        "runner_version": entry.runner_version,
        "note": "",
        "audit-TOTAL_FORMS": "0",
        "audit-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_saving_the_admin_form_records_the_changed_fields(client, personas, approved_entry):
    client.force_login(personas.admin)
    data = form_data(approved_entry, licence="openrail++", memory_mb=9000, note="measured")
    data["audit-TOTAL_FORMS"] = data["audit-INITIAL_FORMS"] = str(approved_entry.audit.count())
    data["audit-0-id"] = str(approved_entry.audit.get().pk)
    data["audit-0-entry"] = str(approved_entry.pk)
    response = client.post(f"{CHANGELIST}{approved_entry.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    record = approved_entry.audit.get(action=AuditAction.EDITED)
    assert record.changes == {"licence": ["sai-nc-community", "openrail++"], "memory_mb": [8000, 9000]}
    assert (record.actor, record.note) == (personas.admin, "measured")


def test_adding_in_the_admin_creates_a_pending_entry_with_a_record(client, personas):
    client.force_login(personas.admin)
    data = form_data(
        ModelEntry(family="sd15"), pipeline="text-to-image", model_id="runwayml/stable-diffusion-v1-5", note="classic"
    )
    response = client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 302
    entry = ModelEntry.objects.get()
    assert entry.status == EntryStatus.PENDING
    record = entry.audit.get()
    assert (record.action, record.actor, record.note) == (AuditAction.CREATED, personas.admin, "classic")


def test_entries_cannot_be_deleted_only_disabled(client, personas, approved_entry):
    client.force_login(personas.admin)
    assert client.post(f"{CHANGELIST}{approved_entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ModelEntry.objects.filter(pk=approved_entry.pk).exists()


@pytest.mark.parametrize("who", ["member", "operator"])
def test_non_staff_cannot_open_the_registry_admin(client, personas, who):
    client.force_login(getattr(personas, who))
    response = client.get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_audit_trail_on_the_change_page_costs_the_same_queries_however_many_actors(
    client, personas, approved_entry
):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from livepeer_ai.registry import curation

    client.force_login(personas.admin)
    change_page = f"{CHANGELIST}{approved_entry.pk}/change/"

    def queries_after(new_actors: int) -> int:
        for _ in range(new_actors):
            curator = get_user_model().objects.create_user(f"curator-{get_user_model().objects.count()}", is_staff=True)
            curation.edit(approved_entry, curator, {"memory_mb": approved_entry.memory_mb + 1}, note="bump")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(change_page).status_code == 200
        return len(captured)

    # Once first: the process's first admin page fills caches (content types) that later ones read.
    queries_after(0)
    assert queries_after(2) == queries_after(6)
