"""The two message formats every side of a job speaks: the runner API's error body, and one
Server-Sent Event (docs/protocol.md §1.3). Runner, node, gateway and the benchmark's stand-in
all build them here."""

from __future__ import annotations

import json
from typing import Any

# A node's 503 when the chain, not the node, failed (docs/protocol.md §2.3): gateways do not
# count it against the node; they try it again later.
CHAIN_UNAVAILABLE = "chain_unavailable"


def error_body(msg: str, code: str = "") -> dict[str, Any]:
    """ai-runner's HTTPError: `{"detail": {"msg": ...}}` (422 alone has a list of items instead);
    a node adds a machine-readable `code` where the reason matters to the caller (CHAIN_UNAVAILABLE)."""
    return {"detail": {"msg": msg, "code": code} if code else {"msg": msg}}


def sse_event(kind: str, data: str | dict[str, Any]) -> str:
    """One event: its name, then its data (a dict is sent as JSON), a `data:` line per line of it."""
    text = json.dumps(data) if isinstance(data, dict) else data
    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"event: {kind}\n{lines}\n"
