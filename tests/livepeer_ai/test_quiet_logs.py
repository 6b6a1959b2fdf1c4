"""Periodic polls stay out of the logs; jobs, failed requests and our own INFO lines do not.

The unit tests drive `QuietPolls` with uvicorn's access records. The process test runs
a real node (`manage.py run_orchestrator`) whose supervisor health-checks a real runner
child process every half second, asks the node's /info as the engine and dashboard do,
and reads both processes' logs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from livepeer_ai.quiet_logs import QuietPolls
from tests.conftest import HTTP, PYTHON, ManagedProcess, free_port, fresh_registry, spawn, wait_for

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'


def access_record(method: str, path: str, status: int) -> logging.LogRecord:
    args = ("127.0.0.1:50000", method, path, "1.1", status)
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, ACCESS_FORMAT, args, None)


@pytest.mark.parametrize(
    ("method", "path", "status", "kept"),
    [
        ("GET", "/health", 200, False),
        ("GET", "/info", 200, False),
        ("GET", "/runners", 200, False),
        ("GET", "/metrics?name=x", 200, False),
        ("GET", "/health", 503, True),
        ("GET", "/runners", 403, True),
        ("POST", "/text-to-image", 200, True),
        ("GET", "/ticket-params?sender=0x1", 200, True),
        ("GET", "/nowhere", 404, True),
    ],
)
def test_only_successful_polls_are_dropped(method: str, path: str, status: int, kept: bool) -> None:
    assert QuietPolls().filter(access_record(method, path, status)) is kept


def test_other_records_pass_untouched() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "plain message", None, None)
    assert QuietPolls().filter(record) is True


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_records() -> Iterator[list[logging.LogRecord]]:
    """What reaches the root logger's handlers, as configured by settings.LOGGING."""
    handler = Collected()
    logging.getLogger().addHandler(handler)
    try:
        yield handler.records
    finally:
        logging.getLogger().removeHandler(handler)


def test_a_beat_task_and_an_http_call_log_nothing_at_info_but_their_errors(
    root_records: list[logging.LogRecord],
) -> None:
    # The lines Celery writes for each beat task (sent, received, succeeded) and httpx for each request.
    for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace", "httpx"):
        logging.getLogger(name).info("a periodic line")
    logging.getLogger("celery.app.trace").error("Task failed")
    logging.getLogger("livepeer_ai.studio").info("closed round r1")
    assert [r.getMessage() for r in root_records] == ["Task failed", "closed round r1"]


@pytest.fixture(scope="module")
def node_with_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagedProcess, Path]]:
    """A node on its own SQLite registry, supervising one weight-free frame-interpolation runner."""
    var = tmp_path_factory.mktemp("quiet-var")
    env = {
        **os.environ,
        "LIVEPEER_VAR_DIR": str(var),
        # Migrated, the tiny models (the interpolator among them) registered and approved.
        "DATABASE_URL": fresh_registry(tmp_path_factory, var),
        "PYTHONUNBUFFERED": "1",
        "QUIET_NODE_KEY": KEY,
    }
    for off_chain in ("REDIS_URL", "WEB3_PROVIDER_URI"):
        env.pop(off_chain, None)
    port = free_port()
    config = var / "node.toml"
    config.write_text(
        "[node]\n"
        'name = "quiet"\n'
        f"port = {port}\n"
        'private_key_env = "QUIET_NODE_KEY"\n'
        "health_interval_s = 0.5\n"
        "[[capabilities]]\n"
        'pipeline = "frame-interpolation"\n'
        'model_id = "opencv/dis-flow"\n'
        'runners = [{ device = "cpu", count = 1 }]\n'
    )
    node = spawn("quiet-node", [PYTHON, "manage.py", "run_orchestrator", "--config", str(config)], env, var)
    node.url = f"http://127.0.0.1:{port}"
    try:
        yield node, var / "logs" / "quiet"
    finally:
        node.stop()


def info(node: ManagedProcess) -> dict[str, object]:
    return dict(HTTP.get(f"{node.url}/info", timeout=5).json())


@pytest.mark.integration
def test_a_node_and_its_runner_log_no_line_per_poll(node_with_runner: tuple[ManagedProcess, Path]) -> None:
    node, runner_logs = node_with_runner

    def runner_ready() -> bool:
        return info(node)["capabilities"][0]["runner_states"]["healthy"] == 1  # type: ignore[index]

    wait_for(runner_ready, 120, f"the runner to be ready\n{node.log_tail()}", interval=0.5)
    runner_url = info(node)["capabilities"][0]["runners"][0]["url"]  # type: ignore[index]
    # Polls as the engines and the dashboard make them, and several of the supervisor's health checks.
    for _ in range(5):
        info(node)
    restarts_before = info(node)["capabilities"][0]["runner_states"]["restarts"]  # type: ignore[index]
    # Requests that are no poll (a wrong route) must still be logged, by both.
    assert HTTP.get(f"{node.url}/nowhere", timeout=5).status_code == 404
    assert HTTP.get(f"{runner_url}/nowhere", timeout=5).status_code == 404
    [runner_log] = runner_logs.glob("*.log")
    wait_for(lambda: '"GET /nowhere' in runner_log.read_text(), 20, f"the runner's 404 line\n{runner_log.read_text()}")
    wait_for(lambda: '"GET /nowhere' in node.log_tail(200), 20, f"the node's 404 line\n{node.log_tail()}")

    node_log, runner_text = node.log_tail(1000), runner_log.read_text()
    assert "GET /info" not in node_log, node_log
    assert "GET /health" not in runner_text, runner_text
    assert "HTTP Request" not in node_log, node_log  # httpx's line per health check
    # Our own INFO lines are still there: the supervisor saw the runner come up.
    assert "ready at" in node_log, node_log
    assert restarts_before == 0
