"""An ASGI wrapper that refuses request bodies over a size limit with 413, whether or not they say their length.

Every HTTP service here (the web app under daphne, each runner, each orchestrator
node) is wrapped in it, so no handler ever reads an unbounded body.
"""

from __future__ import annotations

import json
import tempfile

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livepeer_ai.messages import error_body

# What ai-runner takes, and so every service here: larger bodies are refused with 413.
MAX_BODY_BYTES = 50 * 1024 * 1024
# Chunks replayed to the app from a buffered body: the size daphne hands Django.
REPLAY_CHUNK_BYTES = 64 * 1024
# A buffered chunked body stays in memory up to this size, then goes to a temporary file.
BUFFER_IN_MEMORY_BYTES = 1024 * 1024


class BodySizeLimit:
    """413 for bodies over the limit, by Content-Length or by counting a chunked body.

    A chunked body is only known to be too large while the app is reading it, so
    the 413 is sent from here, the app is told the client went away, and whatever
    the app does about that (an error response, an exception) is swallowed.

    With `buffer_chunked`, a body sent without Content-Length is read here first (to
    the limit) and handed on with its length: Django's multipart parser reads only as
    many bytes as Content-Length says, so without one it saw an empty form.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, buffer_chunked: bool = False) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.buffer_chunked = buffer_chunked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((value for name, value in scope.get("headers", []) if name == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        if length is None and self.buffer_chunked and scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
            await self._buffer_then_call(scope, receive, send)
            return
        await self._count_while_calling(scope, receive, send)

    async def _count_while_calling(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        rejected = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes and not response_started:
                rejected = True
                await self._reject(send)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise

    async def _buffer_then_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        with tempfile.SpooledTemporaryFile(max_size=BUFFER_IN_MEMORY_BYTES) as body:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await self._reject(send)
                    return
                body.write(chunk)
                if not message.get("more_body", False):
                    break
            body.seek(0)
            headers = [(name, value) for name, value in scope.get("headers", []) if name != b"transfer-encoding"]
            headers.append((b"content-length", str(size).encode()))

            finished = False

            async def replay() -> Message:
                nonlocal finished
                if finished:
                    # The whole body was handed on; what is left to wait for is the client going away.
                    return await receive()
                chunk = body.read(REPLAY_CHUNK_BYTES)
                finished = body.tell() >= size
                return {"type": "http.request", "body": chunk, "more_body": not finished}

            await self.app({**scope, "headers": headers}, replay, send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(error_body(f"Request body is over the {self.max_bytes // (1024 * 1024)} MB limit."))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
