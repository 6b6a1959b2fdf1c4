"""Operator accounts made before "operator:<address>" names are renamed by the migration."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("dashboard", "0003_node_snapshot")]
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@pytest.mark.django_db(transaction=True)
def test_existing_operator_accounts_get_names_no_signup_can_take():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User, Operator = old.get_model("auth", "User"), old.get_model("dashboard", "Operator")
    Operator.objects.create(user=User.objects.create(username=ADDRESS.lower()), address=ADDRESS)
    # Someone already holds the new name of the second one: it keeps its old name.
    User.objects.create(username=f"operator:{OTHER}")
    Operator.objects.create(user=User.objects.create(username=OTHER.lower()), address=OTHER)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from dashboard.models import Operator as CurrentOperator

    assert CurrentOperator.objects.get(address=ADDRESS).user.username == f"operator:{ADDRESS}"
    assert CurrentOperator.objects.get(address=OTHER).user.username == OTHER.lower()
