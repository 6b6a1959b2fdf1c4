"""Live previews of a picture as it is denoised: sent only when asked for, bounded in number, size and rate,
and without changing the result."""

from __future__ import annotations

import base64
import io

import torch
from PIL import Image

from livepeer_ai.pipelines.previews import (
    MAX_BYTES,
    MAX_PER_JOB,
    MIN_INTERVAL_S,
    PREVIEW_PREFIX,
    PREVIEW_SIDE,
    PREVIEWS_HEADER,
    Previewer,
    is_preview,
)
from tests.conftest import HTTP
from tests.livepeer_ai.runner.test_pipelines_http import sse_events


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sent_steps(previewer: Previewer, clock: Clock, steps: int, seconds_per_step: float) -> list[int]:
    latents = torch.randn(1, 4, 64, 96)
    sent = []
    for step in range(1, steps + 1):
        clock.now += seconds_per_step
        if previewer.due(step, steps):
            assert previewer.render(latents) is not None
            sent.append(step)
    return sent


def test_previews_come_every_few_steps_never_on_the_last_and_never_too_fast():
    clock = Clock()
    # Slow steps: the step bound decides (50 steps, at most MAX_PER_JOB previews, none on the last).
    sent = sent_steps(Previewer(50, clock), clock, 50, 1.0)
    assert 1 < len(sent) <= MAX_PER_JOB and 50 not in sent, sent
    # Fast steps: the time bound decides (one per MIN_INTERVAL_S at most).
    clock = Clock()
    sent = sent_steps(Previewer(40, clock), clock, 40, MIN_INTERVAL_S / 10)
    assert len(sent) <= 40 * (MIN_INTERVAL_S / 10) / MIN_INTERVAL_S + 1, sent


def test_a_preview_is_a_small_jpeg_of_the_latents_shape():
    clock = Clock()
    url = Previewer(10, clock).render(torch.randn(1, 4, 64, 96) * 3)
    assert url is not None and is_preview(url)
    raw = base64.b64decode(url[len(PREVIEW_PREFIX) :])
    assert len(raw) <= MAX_BYTES
    image = Image.open(io.BytesIO(raw))
    assert image.format == "JPEG" and image.size == (PREVIEW_SIDE, round(PREVIEW_SIDE * 64 / 96))
    # A video's latents (batch, frames, channels, h, w): one frame's picture.
    assert is_preview(Previewer(10, clock).render(torch.randn(1, 6, 4, 32, 32)))
    assert not is_preview("data:image/png;base64,AAAA")
    assert not is_preview(PREVIEW_PREFIX + "A" * (MAX_BYTES * 2))


def test_the_runner_sends_previews_only_when_asked_and_they_do_not_change_the_image(runners):
    url = f"{runners.url('text-to-image')}/text-to-image"
    body = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 6, "seed": 7}
    plain = sse_events(url, json=body)
    runners.url("text-to-image")
    with_previews = sse_events(url, json=body, headers={PREVIEWS_HEADER: "1"})

    assert not any("preview" in payload for kind, payload in plain if kind == "progress")
    previews = [payload["preview"] for kind, payload in with_previews if "preview" in payload]
    assert 1 <= len(previews) <= MAX_PER_JOB
    assert all(is_preview(preview) for preview in previews)
    # The same steps, the same seed: the same bytes, previews or not.
    assert [kind for kind, _ in plain] == [kind for kind, _ in with_previews]
    assert plain[-1][1]["images"] == with_previews[-1][1]["images"]
    # A plain (non-streamed) request ignores the header.
    runners.url("text-to-image")
    answer = HTTP.post(url, json=body, headers={PREVIEWS_HEADER: "1"}, timeout=60)
    assert answer.json()["images"] == plain[-1][1]["images"]
