"""The demo's process list: periodic tasks are scheduled by one beat, in a process of its own.

A beat embedded in a worker (`worker --beat`) is a child of that worker: a worker
killed hard leaves it running, and the restarted worker starts a second, so every
periodic task then runs twice.
"""

from __future__ import annotations

import shlex

from tests.conftest import ROOT


def procfile() -> dict[str, list[str]]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = shlex.split(command)
    return entries


def runs_beat(args: list[str]) -> bool:
    if "celery" not in " ".join(args[:1]):
        return False
    subcommand = next((a for a in args[1:] if not a.startswith("-") and a != "livepeer_ai"), "")
    return subcommand == "beat" or "--beat" in args or "-B" in args


def test_one_process_schedules_periodic_tasks_and_no_worker_embeds_it():
    entries = procfile()
    beats = [name for name, args in entries.items() if runs_beat(args)]
    assert beats == ["beat"]
    assert entries["beat"][1:4] == ["-A", "livepeer_ai", "beat"]
    assert "worker" in entries and not runs_beat(entries["worker"])
