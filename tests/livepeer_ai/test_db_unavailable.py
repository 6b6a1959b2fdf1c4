"""A database that refuses connections: the web process answers 503 with Retry-After, never a 500.

The web process (daphne, as deployed) is pointed at a PostgreSQL address where nothing
listens, so every request that needs the database meets the OperationalError that a
server at its max_connections gives.
"""

from __future__ import annotations

import pytest

from tests.conftest import HTTP, free_port, spawn, wait_for
from tests.processes import PYTHON

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def web_without_database(tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]):
    log_dir = tmp_path_factory.mktemp("db-unavailable")
    port = free_port()
    env = {**stack_env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nothing"}
    process = spawn(
        "daphne",
        [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "livepeer_ai.asgi:application"],
        env,
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: HTTP.get(base + "/static/none", timeout=2), 30, f"daphne\n{process.log_tail()}")
        yield base, process
    finally:
        process.stop()


def test_a_page_is_the_sites_503_with_retry_after(web_without_database):
    base, process = web_without_database
    response = HTTP.get(base + "/", timeout=10)
    assert response.status_code == 503, process.log_tail()
    assert response.headers["Retry-After"] == "5"
    assert 'data-status="503"' in response.text
    assert "database is busy or restarting" in response.text


def test_an_api_call_is_the_apis_json_503(web_without_database):
    base, process = web_without_database
    headers = {"Authorization": "Bearer lpai_not_checked"}
    response = HTTP.post(base + "/api/v1/text-to-image", json={"prompt": "a cat"}, headers=headers, timeout=10)
    assert response.status_code == 503, process.log_tail()
    assert response.headers["Retry-After"] == "5"
    assert "database is busy or restarting" in response.json()["detail"]["msg"]
    job = HTTP.get(base + "/api/v1/jobs/00000000-0000-0000-0000-000000000000", headers=headers, timeout=10)
    assert job.status_code == 503
    assert "Internal Server Error" not in process.log_tail(200)


def test_a_missing_table_is_not_called_busy() -> None:
    """SQLite's "no such table" is an OperationalError too, but a deploy that did not migrate: a 500."""
    import sqlite3

    from django.db import OperationalError
    from django.test import RequestFactory

    from livepeer_ai.db_unavailable import DatabaseUnavailable

    middleware = DatabaseUnavailable(lambda request: None)
    request = RequestFactory().get("/api/v1/jobs/x")
    assert middleware.process_exception(request, OperationalError("no such table: gateway_job")) is None
    sqlite_lock = OperationalError("database is locked")
    sqlite_lock.__cause__ = sqlite3.OperationalError("database is locked")
    busy = middleware.process_exception(request, sqlite_lock)
    assert busy is not None and busy.status_code == 503 and busy["Retry-After"] == "5"
    assert middleware.process_exception(request, ValueError("not a database error")) is None
