"""A child process that dies with the process that started it, even by `kill -9` (Linux's
`PR_SET_PDEATHSIG`): runners with their node (orchestrator/children.py), anvil with its wrapper."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A `preexec_fn` that has the child sent `signum` when its parent dies; None off Linux.

    SIGKILL by default; SIGTERM for a child that must save something on its way out.
    libc and the function are looked up here, before the fork: a child of a threaded
    parent must do nothing between fork and exec that might take a lock.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    kill, getppid, getpid = os.kill, os.getppid, os.getpid

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The parent died before the prctl: no signal would ever come.
        if getppid() != parent:
            kill(getpid(), signum)

    return preexec
