"""The network the fault suite breaks: every part a real process on loopback, each restartable by name.

Redis, a database (bench/stack.py: a fresh PostgreSQL database when one answers,
else SQLite), a private chain (`run_anvil`, contracts deployed, the gateway's deposit
funded), the web process (daphne), one job engine (`run_engine`, named as the
Procfile names it: a restarted engine is a new engine), a Celery worker, beat on its
own, and two nodes (`run_orchestrator`, registered on chain, paid with tickets) that
each sell one stand-in runner (bench/standin_runner.py, its own process, one slot).

Every process gets `FAULTSUITE_RUN=<token>` in its environment, so the suite can
find any process of this run that is still alive but that no part of the network
started: an orphan (`orphans`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import stack
from bench.stack import FAMILIES, HTTP, MODELS, NodeSpec, Process, Processes
from livepeer_ai.payments.anvil import DEFAULT_PRIVATE_KEYS

PIPELINE = "text-to-image"
# One stand-in job: long enough that a kill lands while stages run, short enough for a bounded suite.
SERVICE_S = 4.0
STEPS = 8
NODES = 2
# Checked by the engine's lease: a killed engine's stages are re-queued ENGINE_LEASE_MS after its last beat.
ENGINE_SETTINGS = {"ENGINE_HEARTBEAT_MS": "1000", "ENGINE_LEASE_MS": "5000", "ORCHESTRATOR_INFO_TTL_S": "2"}
KILL_WITH_CHILDREN = {"chain"}
# anvil's development accounts (payments/anvil.py): the deployer, the two nodes, the gateway. Test use only.
DEPLOYER_KEY, NODE_KEYS, GATEWAY_KEY = DEFAULT_PRIVATE_KEYS[0], DEFAULT_PRIVATE_KEYS[1:3], DEFAULT_PRIVATE_KEYS[3]
BOOKS_SCRIPT = """
import json
from livepeer_ai.gateway.models import Job, Receipt, StageAttempt
ids = {ids!r}
jobs = {{str(j.id): {{"status": j.status, "stages": j.stages, "outputs": sorted(j.outputs)}}
        for j in Job.objects.filter(id__in=ids)}}
attempts = [
    {{"job": str(a.job_id), "stage": a.stage, "outcome": a.outcome, "units": a.units,
      "node": a.orchestrator.service_uri if a.orchestrator else "",
      "ended": a.started_at.timestamp() + a.took_s if a.took_s is not None else None}}
    for a in StageAttempt.objects.filter(job_id__in=ids).select_related("orchestrator")
]
receipts = [{{"job": str(r.job_id), "stage": r.stage, "kind": r.kind, "units": int(r.document["receipt"]["units"])}}
            for r in Receipt.objects.filter(job_id__in=ids)]
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.payments.models import OrchestratorCredit, ReceivedTicket, SenderBalance
from livepeer_ai.protocol.units import fee_wei
# Every job in this database is the suite's: the ledgers are compared over all of them.
nodes = {{}}
for node in Orchestrator.objects.exclude(address=""):
    address = node.address.lower()
    offered = next(iter(node.info.get("capabilities", [])), {{}})
    done = StageAttempt.objects.filter(orchestrator__address__iexact=address, outcome="succeeded")
    tickets = ReceivedTicket.objects.filter(recipient__iexact=address)
    nodes[address] = {{
        "fees_of_work_done": sum(
            fee_wei(a.units, int(offered["price_per_unit"]), int(offered.get("pixels_per_unit", 1))) for a in done
        ),
        "tickets_received": tickets.count(),
        "ev_received": sum(int(t.expected_value) for t in tickets),
        "node_balance": sum(int(b.balance) for b in SenderBalance.objects.filter(recipient__iexact=address)),
        "tickets_sent": sum(c.tickets_sent for c in OrchestratorCredit.objects.filter(recipient__iexact=address)),
        "gateway_credit": sum(int(c.balance) for c in OrchestratorCredit.objects.filter(recipient__iexact=address)),
    }}
print("BOOKS" + json.dumps({{"jobs": jobs, "attempts": attempts, "receipts": receipts, "nodes": nodes}}))
"""


@dataclass
class Part:
    """One restartable part: how to start it again, as an operator would, and how to tell it is up."""

    name: str
    start: Callable[[], Process]
    ready: Callable[[Part], bool]
    process: Process | None = None
    # Where this start's lines begin in the log (a restart appends to the same file).
    log_offset: int = 0

    def log_since_start(self) -> str:
        assert self.process is not None
        with self.process.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")


@dataclass
class FaultStack:
    workdir: Path
    processes: Processes
    env: dict[str, str]
    web_url: str = ""
    api_key: str = ""
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    parts: dict[str, Part] = field(default_factory=dict)
    nodes: list[NodeSpec] = field(default_factory=list)
    redis_port: int = 0
    drop_database: Callable[[], None] = lambda: None
    startup_s: float = 0.0

    # -- starting ---------------------------------------------------------

    def add(self, name: str, args: list[str], ready: Callable[[Part], bool], env: dict[str, str] | None = None) -> None:
        environment = {**(env or self.env), "FAULTSUITE_RUN": self.token}
        self.parts[name] = Part(name, lambda: self.processes.start(name, args, environment), ready)
        self.up(name)

    def up(self, name: str, timeout_s: float = 240) -> None:
        part = self.parts[name]
        log_path = self.workdir / f"{name}.log"
        part.log_offset = log_path.stat().st_size if log_path.exists() else 0
        part.process = part.start()
        process = part.process
        try:
            stack.wait_for(lambda: process.alive() and part.ready(part), timeout_s, f"{name} to start")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{part.log_since_start()[-3000:]}") from None

    def kill(self, name: str) -> float:
        """SIGKILL, as the OOM killer or a pulled plug would; returns the wall-clock time of the kill."""
        process = self.parts[name].process
        assert process is not None and process.alive(), f"{name} is not running"
        # A part's own children die in the same instant (the chain: `run_anvil` and anvil, a pulled plug).
        unit = [process.popen.pid]
        if name in KILL_WITH_CHILDREN:
            unit += [child.pid for child in psutil.Process(process.popen.pid).children(recursive=True)]
        killed_at = time.time()
        for pid in unit:
            os.kill(pid, signal.SIGKILL)
        process.popen.wait(timeout=10)
        self.processes.started.remove(process)
        return killed_at

    def pids(self) -> set[int]:
        """The network's live processes and everything they started."""
        found: set[int] = set()
        for part in self.parts.values():
            if part.process is not None and part.process.alive():
                found.add(part.process.popen.pid)
                found |= {child.pid for child in psutil.Process(part.process.popen.pid).children(recursive=True)}
        return found

    def orphans(self) -> list[str]:
        """Processes of this run that no running part started: left behind by a killed one."""
        ours = self.pids() | {os.getpid()}
        left: list[str] = []
        for candidate in psutil.process_iter(["pid", "cmdline"]):
            if candidate.pid in ours:
                continue
            try:
                if candidate.environ().get("FAULTSUITE_RUN") == self.token:
                    left.append(f"{candidate.pid} {' '.join(candidate.info['cmdline'] or [])[:120]}")
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return left

    # -- the public API ---------------------------------------------------

    def submit(self, count: int, seed: int) -> list[str]:
        headers = {"Authorization": f"Bearer {self.api_key}", "Prefer": "respond-async"}
        ids = []
        for index in range(count):
            body = {"prompt": f"fault {seed + index}", "width": 512, "height": 512, "num_inference_steps": STEPS}
            body["seed"] = seed + index
            response = HTTP.post(f"{self.web_url}/api/v1/{PIPELINE}", json=body, headers=headers, timeout=60)
            assert response.status_code == 202, response.text
            ids.append(response.json()["request_id"])
        return ids

    def job(self, job_id: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return dict(HTTP.get(f"{self.web_url}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json())

    def running_stages(self) -> int:
        """Slots busy right now, as the stand-in runners themselves say (OK while a job runs).

        A new client per call (`httpx.get`), as when the fault suite's results were recorded: with the
        suite's one client the kill lands sooner after a slot turns busy, and can land inside a gap
        this suite found and the product does not close yet (docs/reliability.md, "What does not hold")."""
        busy = 0
        for node in self.nodes:
            for url in node.runners[PIPELINE]:
                try:
                    busy += httpx.get(f"{url}/health", timeout=2).json().get("status") == "OK"
                except httpx.HTTPError:
                    continue
        return busy

    def books(self, job_ids: list[str]) -> dict[str, Any]:
        """Jobs, stage attempts and receipts as the gateway's database holds them."""
        result = subprocess.run(
            [stack.PYTHON, "manage.py", "shell", "-c", BOOKS_SCRIPT.format(ids=job_ids)],
            cwd=stack.ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        line = next(line for line in result.stdout.splitlines() if line.startswith("BOOKS"))
        return dict(json.loads(line.removeprefix("BOOKS")))

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.process.log_tail(15)}" for p in self.parts.values() if p.process)


def http_ok(url: str) -> Callable[[Part], bool]:
    return lambda _part: HTTP.get(url, timeout=3).status_code == 200


def log_says(text: str) -> Callable[[Part], bool]:
    return lambda part: text in part.log_since_start()


def start_fault_stack(workdir: Path) -> FaultStack:
    processes = Processes(workdir)
    database = stack.create_database(workdir, "auto")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "livepeer_ai.settings",
        "DATABASE_URL": database.url,
        "LIVEPEER_VAR_DIR": str(workdir / "var"),
        "DEFAULT_MODELS": ",".join(f"{p}={m}" for p, m in MODELS.items()),
        "PYTHONUNBUFFERED": "1",
        **ENGINE_SETTINGS,
    }
    fault_stack = FaultStack(workdir, processes, env, drop_database=database.drop)
    began = time.monotonic()
    try:
        build(fault_stack)
        fault_stack.startup_s = time.monotonic() - began
    except BaseException:
        stop_fault_stack(fault_stack)
        raise
    return fault_stack


def build(fault_stack: FaultStack) -> None:
    import redis

    env, workdir = fault_stack.env, fault_stack.workdir
    fault_stack.redis_port = stack.free_port()
    redis_url = f"redis://127.0.0.1:{fault_stack.redis_port}/0"
    env["REDIS_URL"] = redis_url
    redis_args = [stack.redis_binary(), "--port", str(fault_stack.redis_port), "--bind", "127.0.0.1"]
    # No persistence: a killed Redis comes back empty, the worst case for queued messages.
    redis_args += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    fault_stack.add("redis", redis_args, lambda _part: redis.Redis.from_url(redis_url).ping())

    start_chain(fault_stack)

    script = (
        "from livepeer_ai.gateway.models import ApiKey\n"
        "from livepeer_ai.registry import curation\n"
        "from livepeer_ai.registry.models import EntryStatus\n"
        f"curation.register({{'pipeline': {PIPELINE!r}, 'model_id': {MODELS[PIPELINE]!r}, "
        f"'family': {FAMILIES[PIPELINE]!r}, 'max_side': 1024}}, status=EntryStatus.APPROVED)\n"
        "print('KEY' + ApiKey.issue('fault suite')[1])\n"
    )
    manage(env, "migrate", "--noinput", "-v0")
    output = manage(env, "shell", "-c", script)
    fault_stack.api_key = next(s for s in output.split() if s.startswith("KEY")).removeprefix("KEY")

    for index in range(NODES):
        port = stack.free_port()
        node = NodeSpec(f"fault-node-{index}", stack.free_port(), {PIPELINE: [f"http://127.0.0.1:{port}"]})
        fault_stack.nodes.append(node)
        standin = [stack.PYTHON, "-m", "bench.standin_runner", "--ports", str(port), "--pipelines", PIPELINE]
        standin += ["--service", f"{PIPELINE}={SERVICE_S}", "--seed", str(index)]
        fault_stack.add(f"runner-{index}", standin, http_ok(f"http://127.0.0.1:{port}/health"))
    env["ORCHESTRATOR_URLS"] = ",".join(node.url for node in fault_stack.nodes)

    web_port = stack.free_port()
    fault_stack.web_url = f"http://127.0.0.1:{web_port}"
    web = [stack.PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "livepeer_ai.asgi:application"]
    web_env = {**env, "CSRF_TRUSTED_ORIGINS": fault_stack.web_url}
    fault_stack.add("web", web, http_ok(f"{fault_stack.web_url}/api/v1/openapi.json"), web_env)

    for index, node in enumerate(fault_stack.nodes):
        config = workdir / f"{node.name}.toml"
        config.write_text(node.toml("FAULT_NODE_KEY"))
        node_env = {**env, "FAULT_NODE_KEY": NODE_KEYS[index]}
        manage(node_env, "register_orchestrator", "--config", str(config), "--stake", "1")
        args = [stack.PYTHON, "manage.py", "run_orchestrator", "--config", str(config)]
        fault_stack.add(f"node-{index}", args, lambda _part, n=node: stack.node_ready(n), node_env)

    celery = [stack.PYTHON, "-m", "celery", "-A", "livepeer_ai"]
    worker = [*celery, "worker", "--pool", "threads", "--concurrency", "2", "--loglevel", "INFO"]
    fault_stack.add("worker", [*worker, "--without-mingle", "--without-gossip"], log_says("ready."))
    beat = [*celery, "beat", "--schedule", str(workdir / "celerybeat-schedule"), "--loglevel", "INFO"]
    fault_stack.add("beat", beat, log_says("is starting."))
    # As the Procfile runs it: no --name, so a restarted engine is a new one and the old one's lease lapses.
    fault_stack.add("engine", [stack.PYTHON, "manage.py", "run_engine"], log_says("starting"))


def manage(env: dict[str, str], *command: str) -> str:
    result = subprocess.run(
        [stack.PYTHON, "manage.py", *command], cwd=stack.ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {command[0]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def start_chain(fault_stack: FaultStack) -> None:
    """anvil as the demo runs it (`run_anvil`, its state in the var dir), the contracts, the gateway's deposit."""
    env = fault_stack.env
    port = stack.free_port()
    url = f"http://127.0.0.1:{port}"
    env.update({"WEB3_PROVIDER_URI": url, "DEPLOYER_PRIVATE_KEY": DEPLOYER_KEY, "GATEWAY_PRIVATE_KEY": GATEWAY_KEY})

    def answers(_part: Part) -> bool:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        return bool(HTTP.post(url, json=body, timeout=2).json().get("result"))

    fault_stack.add("chain", [stack.PYTHON, "manage.py", "run_anvil", "--port", str(port)], answers)
    # Compiled contracts are cached by source and compiler version: reuse this checkout's cache.
    cache = stack.ROOT / "var" / "contracts"
    if cache.is_dir():
        shutil.copytree(cache, Path(env["LIVEPEER_VAR_DIR"]) / "contracts", dirs_exist_ok=True)
    manage(env, "deploy_contracts")
    manage(env, "fund_deposit", "--deposit", "10", "--reserve", "10", "--top-up")


def stop_fault_stack(fault_stack: FaultStack) -> None:
    fault_stack.processes.stop()
    fault_stack.drop_database()
