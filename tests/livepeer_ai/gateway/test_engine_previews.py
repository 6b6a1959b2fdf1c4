"""Previews through the engine: a node is asked for them only for jobs whose watchers can see them (a GIF
job's page shows them; an API caller never does), and the engine relays at most one per
PREVIEW_MIN_INTERVAL_S of a stage to the job's watchers, whatever a node sends.

The node is the one stand-in: an httpx transport answering the stage's request with Server-Sent Events.
Everything on the gateway's side is real: the queue, dispatch, the engine's stream, the channel layer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from PIL import Image

from livepeer_ai.gateway import engine, queue
from livepeer_ai.gateway.models import ApiKey, Job
from livepeer_ai.gateway.progress import job_group
from livepeer_ai.gateway.workflow import create_api_job, create_gif_job
from livepeer_ai.payments.receipts import JOB_ID_HEADER
from livepeer_ai.pipelines.previews import MIN_INTERVAL_S, PREVIEWS_HEADER, encode_preview
from tests.livepeer_ai.gateway.test_queue import T2I, network_seen, node

pytestmark = pytest.mark.django_db

PREVIEW = encode_preview(Image.new("RGB", (64, 64), (200, 40, 40)))
RESULT = {"images": [{"url": "data:image/png;base64,", "seed": 1, "nsfw": False}]}
NODE = "http://node.test"


def sse(event: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode()


@pytest.fixture
def one_node(gateway_settings: Any) -> None:
    node(NODE, {T2I: 4})
    network_seen()


def run_stage(job: Job, answer: Callable[[httpx.Request], Iterator[bytes]]) -> list[dict[str, Any]]:
    """Dispatch the job's first stage and stream it from a node answering with `answer`'s events;
    what the job's watchers were sent (each message's snapshot)."""

    async def go() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(job_group(job.id), channel)
        (assignment,) = await engine.db(queue.dispatch, *T2I, "test-engine")
        assert assignment.job_id == str(job.id)

        async def events(request: httpx.Request) -> Any:
            for chunk in answer(request):
                yield chunk

        def respond(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events(request))

        streamer = engine.Engine(name="test-engine")
        streamer.client = httpx.AsyncClient(transport=httpx.MockTransport(respond))
        try:
            _prepared, result = await streamer.prepare_and_stream(assignment)
        finally:
            await streamer.client.aclose()
        assert result == RESULT
        sent = []
        while True:
            try:
                sent.append((await asyncio.wait_for(layer.receive(channel), 0.2))["snapshot"])
            except TimeoutError:
                return sent

    return async_to_sync(go)()


def test_a_gif_jobs_stage_asks_its_node_for_previews_and_an_api_jobs_does_not(one_node):
    asked: dict[str, str | None] = {}

    def answer(request: httpx.Request) -> Iterator[bytes]:
        job_id = request.headers[JOB_ID_HEADER].split(":")[0]
        asked[job_id] = request.headers.get(PREVIEWS_HEADER)
        yield sse("result", RESULT)

    studio = create_gif_job("a heron")
    run_stage(studio, answer)
    key, _secret = ApiKey.issue("a developer")
    api = create_api_job(*T2I[:1], {"prompt": "a heron", "model_id": T2I[1]}, None, key)
    run_stage(api, answer)

    assert asked == {str(studio.id): "1", str(api.id): None}


def test_the_engine_relays_at_most_one_preview_per_interval_however_many_the_node_sends(one_node, monkeypatch):
    # The engine's clock is the node's: each progress event arrives step_s after the one before, with a preview.
    step_s = MIN_INTERVAL_S * 0.4
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(engine, "time", SimpleNamespace(monotonic=lambda: clock.now))
    steps = 12

    def answer(request: httpx.Request) -> Iterator[bytes]:
        for step in range(1, steps + 1):
            clock.now = (step - 1) * step_s
            yield sse("progress", {"step": step, "total": steps, "preview": PREVIEW})
        yield sse("result", RESULT)

    sent = run_stage(create_gif_job("a heron"), answer)

    # Every step reaches the watchers; previews only at steps 1, 4, 7 and 10 (0, 0.3, 0.6 and 0.9 s):
    # at least MIN_INTERVAL_S apart.
    assert [m["step"] for m in sent if m["step"]] == list(range(1, steps + 1))
    assert [m["step"] for m in sent if "preview" in m] == [1, 4, 7, 10]
    assert all(m["preview"] == PREVIEW for m in sent if "preview" in m)
