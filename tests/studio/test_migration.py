"""Rounds made before rounds listed models keep offering what they offered: the studio's default model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("studio", "0003_notifications")]


@pytest.mark.django_db(transaction=True)
def test_a_round_from_before_the_migration_offers_the_default_model_only():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    now = timezone.now()
    old.get_model("studio", "Round").objects.create(
        slug="old-round",
        title="Old round",
        theme="before models",
        prompt_opens_at=now - timedelta(hours=1),
        prompt_closes_at=now + timedelta(days=1),
        voting_opens_at=now - timedelta(hours=1),
        voting_closes_at=now + timedelta(days=2),
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from studio.image_models import allowed_model_ids, offered_models
    from studio.models import Round

    round = Round.objects.get(slug="old-round")
    assert not round.text_to_image_models.exists()
    default = settings.DEFAULT_MODELS["text-to-image"]
    assert allowed_model_ids(round) == [default]
    assert [model.model_id for model in offered_models(round)] == [default]
