"""build_tiny_models registers the network's tiny models as approved, on the record, and respects curators."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from livepeer_ai.pipelines.tiny import tiny_catalog
from livepeer_ai.registry import curation
from livepeer_ai.registry.models import AuditAction, EntryStatus, ModelEntry

pytestmark = pytest.mark.django_db


def test_new_tiny_entries_are_approved_and_a_curators_disable_stands(stack_env, personas):
    # The session's models folder is already built: this registers without rebuilding.
    models = str(Path(stack_env["LIVEPEER_MODELS_DIR"]))
    call_command("build_tiny_models", output=models)
    entries = ModelEntry.objects.all()
    # One entry per (pipeline, model) of the catalog: the five image and video pipelines, and the text ones.
    assert entries.count() == len({(e["pipeline"], e["model_id"]) for e in tiny_catalog(Path(models))}) == 12
    assert set(entries.values_list("status", flat=True)) == {EntryStatus.APPROVED}
    record = entries.get(pipeline="upscale").audit.get()
    assert (record.action, record.actor, record.changes["status"]) == (AuditAction.CREATED, None, [None, "approved"])

    flow = entries.get(pipeline="frame-interpolation")
    curation.disable(flow, personas.admin, note="testing")
    ModelEntry.objects.filter(pk=flow.pk).update(local_path="/moved")
    call_command("build_tiny_models", output=models)
    flow.refresh_from_db()
    assert flow.status == EntryStatus.DISABLED
    assert flow.audit.filter(action=AuditAction.EDITED).get().changes == {"local_path": ["/moved", flow.local_path]}
