"""Redis down: progress goes unpublished with one warning line per outage, and resumes when Redis is back.

A real channels_redis layer pointed at a port where Redis is not running yet, then is, then
is no more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from livepeer_ai.gateway import progress
from livepeer_ai.gateway.progress import job_group, publish_queue_moved, publish_step
from tests.conftest import free_port, redis_server
from tests.livepeer_ai.test_quiet_logs import Collected

JOB = "0b5e4a52-6a57-4d43-9a3c-2f0d1f4d9e11"


@pytest.fixture
def progress_log() -> Iterator[Collected]:
    handler = Collected()
    logger = logging.getLogger(progress.__name__)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        progress.outage.down_since = None


async def steps(count: int) -> None:
    for step in range(count):
        await publish_step(JOB, 0, step, count)
        await publish_queue_moved("text-to-image some-model")


async def watch_one_step(step: int) -> dict[str, Any]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(job_group(JOB), channel)
    await publish_step(JOB, 0, step, 9)
    return dict(await asyncio.wait_for(layer.receive(channel), 5))


@pytest.mark.integration
def test_a_redis_outage_is_one_warning_line_and_publishing_resumes_when_redis_is_back(
    settings: Any, tmp_path: Path, progress_log: Collected
) -> None:
    port = free_port()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{port}/0"}]},
        }
    }
    async_to_sync(steps)(6)
    (down,) = progress_log.records
    assert down.levelno == logging.WARNING and down.exc_info is None
    assert "Connection" in down.getMessage()

    with redis_server(port, tmp_path):
        assert async_to_sync(watch_one_step)(7)["snapshot"]["step"] == 7
        (back,) = progress_log.records[1:]
        assert "again" in back.getMessage()

    # Down again: a new outage, one more line.
    async_to_sync(steps)(3)
    assert len(progress_log.records) == 3 and progress_log.records[2].exc_info is None
