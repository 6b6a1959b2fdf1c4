"""The message formats every side of a job speaks: the runner API's error body, one
Server-Sent Event (docs/protocol.md §1.3), and a streamed llm answer's OpenAI chunks. Runner,
node, gateway and the benchmark's stand-in all build them here."""

from __future__ import annotations

import json
from typing import Any

# A node's 503 when the chain, not the node, failed (docs/protocol.md §2.3): gateways do not
# count it against the node; they try it again later.
CHAIN_UNAVAILABLE = "chain_unavailable"
# The gateway itself cannot pay (no key, no contracts): its own failure, never a node's.
GATEWAY_CANNOT_PAY = "gateway_cannot_pay"


def error_body(msg: str, code: str = "") -> dict[str, Any]:
    """ai-runner's HTTPError: `{"detail": {"msg": ...}}` (422 alone has a list of items instead);
    a node adds a machine-readable `code` where the reason matters to the caller (CHAIN_UNAVAILABLE)."""
    return {"detail": {"msg": msg, "code": code} if code else {"msg": msg}}


def sse_event(kind: str, data: str | dict[str, Any]) -> str:
    """One event: its name, then its data (a dict is sent as JSON), a `data:` line per line of it."""
    text = json.dumps(data) if isinstance(data, dict) else data
    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"event: {kind}\n{lines}\n"


# A streamed llm answer ends with this line, as OpenAI's and Livepeer's do.
CHAT_STREAM_DONE = "data: [DONE]\n\n"


def chat_chunk(
    chunk_id: str,
    model: str,
    created: int,
    delta: dict[str, str],
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> str:
    """One `chat.completion.chunk` of a streamed llm answer: a bare `data:` line, as OpenAI sends it."""
    chunk: dict[str, Any] = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return f"data: {json.dumps(chunk)}\n\n"


def chat_error(msg: str, status: int) -> str:
    """A streamed llm answer that failed after it began: the API's error body, with its status, as a chunk."""
    return f"data: {json.dumps({**error_body(msg), 'status': status})}\n\n"
