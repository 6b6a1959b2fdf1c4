"""The suite's runners, forked from a parent that has already imported what they import.

`manage.py run_runner` spends most of a tiny runner's start importing torch, diffusers and
transformers: about 8 CPU-seconds on the suite's machine, more than most of the suite's runners
spend on their jobs. The runner fleet (tests/conftest.py) therefore asks one warm parent per test
process to fork each runner. The child runs the same `run_runner` command with its own port, log
and PID, and is stopped with signals as any runner is. Runners that the product itself starts
(the orchestrator's supervisor, `make demo`) are fresh processes; the suite starts some that way too
(the supervision tests' OpenCV runners, and a diffusers runner in tests/livepeer_ai/runner/test_health.py
that loads, serves a job and is checked for quiet logs).

Run as `python -m tests.zygote`: it answers one JSON request per line on stdin
({"spawn": [args], "log": path} → {"pid": n}; {"status": pid} → {"exit": code or null}).
Forking after importing torch is safe while no compute thread has started, so the parent
imports and never computes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# What the runners' pipelines import when they load (livepeer_ai/pipelines/*.py), imported once here.
WARM_IMPORTS = {
    "diffusers": (
        "AutoPipelineForImage2Image",
        "AutoPipelineForText2Image",
        "StableDiffusionUpscalePipeline",
        "StableVideoDiffusionPipeline",
    ),
    "transformers": (
        "AutoModelForCausalLM",
        "AutoModelForSpeechSeq2Seq",
        "AutoProcessor",
        "AutoTokenizer",
        "BlipForConditionalGeneration",
        "BlipProcessor",
        "Sam2Model",
        "Sam2VideoModel",
        "VitsModel",
        "pipeline",
    ),
}


def warm() -> None:
    import importlib

    from livepeer_ai.pipelines.loader import quiet_progress_bars, runner_environment

    runner_environment()  # before huggingface_hub is imported: it reads them then
    for library, names in WARM_IMPORTS.items():
        module = importlib.import_module(library)
        for name in names:
            getattr(module, name)
        quiet_progress_bars(library)
    import livepeer_ai.runner.app  # noqa: F401
    import livepeer_ai.runner.management.commands.run_runner  # noqa: F401


def run_child(args: list[str], log_path: str) -> None:
    """In the forked child: output to the log, then the command; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        from django.core.management import execute_from_command_line

        sys.argv = ["manage.py", *args]
        execute_from_command_line(sys.argv)
        code = 0
    except SystemExit as exit:
        if isinstance(exit.code, int) or exit.code is None:
            code = exit.code or 0
        else:
            print(exit.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
    import django

    django.setup()
    warm()
    from django.db import connections

    connections.close_all()  # each child opens its own
    exited: dict[int, int] = {}

    def reap(signum: int, frame: Any) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exited[pid] = os.waitstatus_to_exitcode(status)

    signal.signal(signal.SIGCHLD, reap)
    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                run_child(request["spawn"], request["log"])
            exited.pop(pid, None)  # a PID the system gave again: not the old child's exit
            reply: dict[str, Any] = {"pid": pid}
        else:
            reply = {"exit": exited.get(request["status"])}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def exchange(process: subprocess.Popen[str], request: Any) -> Any:
    """Send `request` as one JSON line to a helper process the suite drives (this zygote, the browser
    site's shell) and read its one-line JSON answer; None when the process has exited."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(request) + "\n")
    process.stdin.flush()
    answer = process.stdout.readline()
    return json.loads(answer) if answer else None


def end(process: subprocess.Popen[str]) -> None:
    """Stop a helper process that `exchange` drives: its input closes and it ends (killed after 10 s)."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class Forked:
    """A child of the zygote, driven like a `subprocess.Popen`."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            if self.zygote.process.poll() is None:
                self.returncode = self.zygote.ask({"status": self.pid})["exit"]
            else:  # the parent is gone, and init reaps its children: only whether the PID lives is known
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"forked runner {self.pid}", timeout or 0)
            time.sleep(0.05)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The warm parent: started with the environment its children get; it is ready when it first answers."""

    def __init__(self, root: Path, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.zygote"],
                cwd=root,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self.lock = threading.Lock()

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            reply = exchange(self.process, request)
        if reply is None:
            log = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the runners' zygote exited ({self.process.wait()}):\n{log}")
        return reply

    def spawn(self, args: list[str], log_path: Path) -> Forked:
        return Forked(self, self.ask({"spawn": args, "log": str(log_path)})["pid"])

    def stop(self) -> None:
        end(self.process)


if __name__ == "__main__":
    serve()
