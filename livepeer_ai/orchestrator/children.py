"""A node's runner processes never outlive it, and a starting node clears what a dead one left.

- Each runner starts in a process group of its own, and asks the kernel (Linux's
  `PR_SET_PDEATHSIG`) for SIGKILL when the node dies, even by `kill -9`, when
  nothing of the node's own runs to stop it. The signal follows the death of the
  thread that started the child, so runners are started from the node's event
  loop thread, which lives as long as the node.
- A pidfile per node (`var/run/<node name>.json`) names the node and each runner
  it started, with each process's start time, so a pid the kernel gave to some
  other process since is never taken for one of ours. A starting node kills the
  runners its predecessor left (on a system without `PR_SET_PDEATHSIG`, or a
  runner caught between its fork and its `prctl`), and refuses to start while
  that predecessor still runs: two nodes would share and kill each other's runners.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

# Start times are floats read from /proc; equal within this is the same process.
START_TIME_TOLERANCE_S = 0.05
REAP_TIMEOUT_S = 10.0


class NodeAlreadyRunning(Exception):
    """The pidfile names a node that is alive: this one would take its runners from it."""


@dataclass(frozen=True)
class Recorded:
    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> Recorded:
        return cls(pid, psutil.Process(pid).create_time())

    def live_process(self) -> psutil.Process | None:
        """The process, if it still runs and is the one recorded (not a later one with its pid)."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.create_time) > START_TIME_TOLERANCE_S:
                return None
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except psutil.Error:
            return None

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time}


class Pidfile:
    """The node's own pid and its runners', rewritten whole (atomically) as they change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.node = Recorded.of(os.getpid())
        self.runners: dict[str, Recorded] = {}

    def read(self) -> tuple[Recorded | None, list[Recorded]]:
        try:
            recorded = json.loads(self.path.read_text())
            node = Recorded(int(recorded["node"]["pid"]), float(recorded["node"]["create_time"]))
            runners = [Recorded(int(r["pid"]), float(r["create_time"])) for r in recorded["runners"].values()]
        except FileNotFoundError:
            return None, []
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignoring unreadable pidfile %s", self.path)
            return None, []
        return node, runners

    def reap_previous(self) -> list[int]:
        """Kill the runners a previous node left; returns their pids. Refuses while that node lives."""
        node, runners = self.read()
        if node is not None and node.pid != os.getpid() and node.live_process() is not None:
            raise NodeAlreadyRunning(f"a node with this name already runs as pid {node.pid} ({self.path})")
        killed = []
        for runner in runners:
            process = runner.live_process()
            if process is None:
                continue
            logger.warning("killing runner pid %d left by a previous node", runner.pid)
            kill_group(process.pid)
            killed.append(runner.pid)
        deadline = time.monotonic() + REAP_TIMEOUT_S
        while time.monotonic() < deadline and any(r.live_process() for r in runners):
            time.sleep(0.05)
        self.write()
        return killed

    def started(self, runner_id: str, pid: int) -> None:
        self.runners[runner_id] = Recorded.of(pid)
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"node": self.node.to_json(), "runners": {k: r.to_json() for k, r in self.runners.items()}}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document))
        os.replace(tmp, self.path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def kill_group(pid: int) -> None:
    """SIGKILL the process, and its group when it leads one (a runner may have started children)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
