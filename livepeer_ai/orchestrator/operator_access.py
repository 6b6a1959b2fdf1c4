"""Who may call a node's operator routes: /runners (runner log tails) and /metrics (earnings).

They are the operator's, not the network's: go-livepeer serves such things on its
local CLI port, not on the public service port. Here they share the service port,
so they need the node's admin token (ORCHESTRATOR_ADMIN_TOKEN in the node's
environment); a node without one answers them only to clients on its own machine
(127.0.0.1 / ::1), which is how the demo's dashboard, on the same machine, reads
them. Behind a reverse proxy on the node's machine every client looks local: set
the token there.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable

from fastapi import Request
from fastapi.responses import JSONResponse

from livepeer_ai.messages import error_body

ADMIN_TOKEN_ENV = "ORCHESTRATOR_ADMIN_TOKEN"
HOW_TO_OPEN = (
    f"This is an operator route: it answers only on the node's own machine unless the node has "
    f"{ADMIN_TOKEN_ENV} set in its environment; then send Authorization: Bearer <that token>."
)


def admin_token() -> str:
    """The node's admin token from its environment; empty when it has none."""
    return os.environ.get(ADMIN_TOKEN_ENV, "")


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(request: Request, tokens: Iterable[str]) -> JSONResponse | None:
    """None when the request may go on; otherwise the answer that refuses it.

    With any of `tokens` set, the request must carry one of them (whoever sends it);
    with none set, it must come from this machine.
    """
    configured = [token for token in tokens if token]
    if configured:
        sent = request.headers.get("authorization", "")
        if any(hmac.compare_digest(sent, f"Bearer {token}") for token in configured):
            return None
        return JSONResponse(error_body("Invalid bearer token."), status_code=401)
    if is_loopback(request.client.host if request.client else None):
        return None
    return JSONResponse(error_body(HOW_TO_OPEN), status_code=403)
