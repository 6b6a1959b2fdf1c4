"""A free TCP port for a process this code starts (runners, anvil, test and bench servers)."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS has just handed out on `host`; another process may still take it before ours binds."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
