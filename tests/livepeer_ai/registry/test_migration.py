"""Entries registered before curation existed stay routable: the migration approves them, on the record."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db(transaction=True)
def test_existing_entries_become_approved_with_an_audit_record():
    executor = MigrationExecutor(connection)
    executor.migrate([("registry", "0002_memory_mb")])
    old = executor.loader.project_state([("registry", "0002_memory_mb")]).apps
    old.get_model("registry", "ModelEntry").objects.create(
        pipeline="text-to-image", model_id="livepeer-ai/tiny-sd15", family="sd15"
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from livepeer_ai.registry.models import EntryStatus, ModelEntry

    entry = ModelEntry.objects.get(model_id="livepeer-ai/tiny-sd15")
    assert entry.status == EntryStatus.APPROVED
    (record,) = entry.audit.all()
    assert record.changes == {"status": ["pending", "approved"]}
    assert record.actor is None and "migration" in record.note
