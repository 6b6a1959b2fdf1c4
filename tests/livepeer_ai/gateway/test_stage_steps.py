"""An API job's stage counts the steps its latency is divided by as the studio's stages and go-livepeer do.

The latency score is seconds per unit per inference step (docs/protocol.md §2.5), averaged over a
node's recent stages of one pipeline and model. A request that leaves num_inference_steps at the
runner's default runs those steps: counted as none, it would score its node 50 times slower than
the same work asked with the steps named.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from livepeer_ai.gateway.api import Upload
from livepeer_ai.gateway.workflow import api_stage_request, create_api_job
from livepeer_ai.pipelines.media import encode_apng

pytestmark = pytest.mark.django_db


def png(size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "navy").save(out, format="PNG")
    return out.getvalue()


def steps_of(pipeline: str, fields: dict, upload: Upload | None = None) -> int:
    job = create_api_job(pipeline, fields, upload, None)
    return api_stage_request(job, pipeline).steps


def test_a_request_without_num_inference_steps_counts_the_runners_default():
    assert steps_of("text-to-image", {"prompt": "x"}) == 50
    assert steps_of("text-to-image", {"prompt": "x", "num_inference_steps": 4}) == 4
    image = Upload("in.png", png(), "image/png", (64, 64), 0)
    assert steps_of("image-to-video", {}, image) == 25
    assert steps_of("upscale", {"prompt": "x"}, image) == 75
    assert steps_of("upscale", {"prompt": "x", "num_inference_steps": "3"}, image) == 3


def test_frame_interpolation_counts_a_step_per_pair_of_frames_as_the_studio_does():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue", "white")]
    video = Upload("in.png", encode_apng(frames, 4), "image/apng", (16, 16), 4)
    assert steps_of("frame-interpolation", {"multiplier": 2}, video) == 3


def test_pipelines_without_steps_count_none():
    assert steps_of("llm", {"messages": [{"role": "user", "content": "hi"}]}) == 0
    assert steps_of("text-to-speech", {"text": "hello"}) == 0
    image = Upload("in.png", png(), "image/png", (64, 64), 0)
    assert steps_of("image-to-text", {}, image) == 0
