"""The demo's processes, started for tests: orchestrator nodes, daphne, a Celery worker.

Each is a real process on a free loopback port, started with the session's private
environment (`stack_env`: var dir, SQLite, tiny models) and stopped by the caller.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import HTTP, PYTHON, RUNNERS, ManagedProcess, free_port, spawn, wait_for


def node_config(port: int, key_env: str, runner_urls: dict[str, str], name: str = "test-node") -> str:
    """An orchestrator TOML selling external runners ({runner name in RUNNERS: url}), off chain."""
    lines = [
        "[node]",
        f'name = "{name}"',
        f"port = {port}",
        f'service_uri = "http://127.0.0.1:{port}"',
        f'private_key_env = "{key_env}"',
        "health_interval_s = 1",
    ]
    for runner, url in runner_urls.items():
        pipeline, model = RUNNERS[runner]
        lines += [
            "[[capabilities]]",
            f'pipeline = "{pipeline}"',
            f'model_id = "{model}"',
            "price_per_unit = 4_768_371",
            f'runners = [{{ url = "{url}" }}]',
        ]
    return "\n".join(lines) + "\n"


def start_orchestrator(
    env: dict[str, str], log_dir: Path, key: str, runner_urls: dict[str, str], name: str = ""
) -> ManagedProcess:
    """A `run_orchestrator` process, returned once every capability has a free warm runner.

    Each node has a name of its own (by default from its port): a node's pidfile is named after it,
    and a node refuses to start while another of its name runs in the same var dir."""
    port = free_port()
    name = name or f"orchestrator-{port}"
    config = log_dir / f"{name}.toml"
    config.write_text(node_config(port, "TEST_NODE_KEY", runner_urls, name=name))
    process = spawn(
        name, [PYTHON, "manage.py", "run_orchestrator", "--config", str(config)], {**env, "TEST_NODE_KEY": key}, log_dir
    )
    process.url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: all(c["capacity"] == 1 for c in HTTP.get(f"{process.url}/info", timeout=2).json()["capabilities"]),
            60,
            f"{name} ready\n{process.log_tail()}",
        )
    except BaseException:
        process.stop()
        raise
    return process


def start_daphne(env: dict[str, str], log_dir: Path) -> ManagedProcess:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = spawn(
        "daphne",
        [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "livepeer_ai.asgi:application"],
        {**env, "CSRF_TRUSTED_ORIGINS": base},
        log_dir,
    )
    process.url = base
    try:
        wait_for(lambda: HTTP.get(base + "/", timeout=2).status_code == 200, 30, f"daphne\n{process.log_tail()}")
    except BaseException:
        process.stop()
        raise
    return process


def start_worker(env: dict[str, str], log_dir: Path, beat: bool = False, concurrency: int = 2) -> ManagedProcess:
    args = [PYTHON, "-m", "celery", "-A", "livepeer_ai", "worker", "--pool", "threads"]
    args += ["--concurrency", str(concurrency), "--loglevel", "INFO", "--without-mingle", "--without-gossip"]
    if beat:
        args += ["--beat", "--schedule", str(log_dir / "celerybeat-schedule")]
    return spawn("worker", args, env, log_dir)


def start_engine(env: dict[str, str], log_dir: Path, name: str = "engine") -> ManagedProcess:
    """A job engine process (`manage.py run_engine`), as the demo's Procfile runs it."""
    return spawn(name, [PYTHON, "manage.py", "run_engine", "--name", name], env, log_dir)


def empty_queue(env: dict[str, str]) -> None:
    """Cancel whatever waits in the queue of `env`'s SQLite database: jobs a test left for no engine
    must not become the next test's work."""
    import sqlite3

    with sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"), timeout=20) as db:
        db.execute("UPDATE gateway_job SET status = 'canceled' WHERE status IN ('queued', 'running')")
        db.execute("DELETE FROM gateway_queuedstage")
