"""Every pipeline end to end through the runner's HTTP API, on the tiny models."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image

from livepeer_ai.pipelines.media import parse_data_url
from livepeer_ai.runner.client import RunnerClient
from tests.conftest import HTTP


def png(width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    # A square to give flow and diffusion something to see.
    image.paste((20, 200, 60), (width // 4, height // 4, width // 2, height // 2))
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decode(url: str) -> Image.Image:
    _mime, raw = parse_data_url(url)
    return Image.open(io.BytesIO(raw))


def sse_events(url: str, **request: Any) -> list[tuple[str, dict[str, Any]]]:
    """All events of one streamed job, parsed by hand (independent of the client under test)."""
    events = []
    headers = {"Accept": "text/event-stream", **request.pop("headers", {})}
    with HTTP.stream("POST", url, headers=headers, timeout=120, **request) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[len("data: ") :])))
    return events


def test_text_to_image_returns_png_data_urls_with_consecutive_seeds(runners):
    body = {
        "prompt": "a cat in a hat",
        "width": 64,
        "height": 48,
        "num_inference_steps": 2,
        "num_images_per_prompt": 3,
        "seed": 41,
    }
    response = HTTP.post(f"{runners.url('text-to-image')}/text-to-image", json=body, timeout=60)
    assert response.status_code == 200, response.text
    images = response.json()["images"]
    assert [image["seed"] for image in images] == [41, 42, 43]
    for image in images:
        assert image["url"].startswith("data:image/png;base64,")
        assert decode(image["url"]).size == (64, 48)
        assert image["nsfw"] is False
    # Different seeds must give different pictures.
    assert images[0]["url"] != images[1]["url"]


def test_text_to_image_uses_protocol_defaults(runners):
    response = HTTP.post(
        f"{runners.url('text-to-image')}/text-to-image",
        json={"prompt": "defaults", "num_inference_steps": 1},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    image = response.json()["images"][0]
    # docs/protocol.md §1.2: width 1024, height 576, and a random seed in [0, 2^32-1].
    assert decode(image["url"]).size == (1024, 576)
    assert 0 <= image["seed"] <= 2**32 - 1


@pytest.mark.parametrize("runner", ["text-to-image", "text-to-image-sd15"])
def test_same_seed_gives_same_bytes(runners, runner):
    body = {"prompt": "determinism", "width": 64, "height": 64, "num_inference_steps": 3, "seed": 7}
    url = f"{runners.url(runner)}/text-to-image"
    first = HTTP.post(url, json=body, timeout=60).json()["images"][0]["url"]
    second = HTTP.post(url, json=body, timeout=60).json()["images"][0]["url"]
    other = HTTP.post(url, json={**body, "seed": 8}, timeout=60).json()["images"][0]["url"]
    assert first == second
    assert first != other


def test_image_k_is_the_same_whatever_the_batch_size(runners):
    url = f"{runners.url('text-to-image')}/text-to-image"
    base = {"prompt": "batch", "width": 64, "height": 64, "num_inference_steps": 2}
    batch = HTTP.post(url, json={**base, "seed": 100, "num_images_per_prompt": 2}, timeout=60).json()["images"]
    single = HTTP.post(url, json={**base, "seed": 101}, timeout=60).json()["images"][0]
    assert batch[1]["url"] == single["url"]


@pytest.mark.parametrize(
    ("runner", "pipeline", "request_kwargs", "expected_steps"),
    [
        (
            "text-to-image",
            "text-to-image",
            {"json": {"prompt": "p", "width": 64, "height": 64, "num_inference_steps": 5, "num_images_per_prompt": 2}},
            10,
        ),
        (
            "text-to-image-sd15",
            "text-to-image",
            {"json": {"prompt": "p", "width": 64, "height": 64, "num_inference_steps": 4}},
            4,
        ),
        (
            "image-to-image",
            "image-to-image",
            {
                "data": {"prompt": "p", "num_inference_steps": "10", "strength": "0.5"},
                "files": {"image": ("in.png", png(), "image/png")},
            },
            5,
        ),
        (
            "image-to-video",
            "image-to-video",
            {
                "data": {"width": "64", "height": "64", "num_inference_steps": "4"},
                "files": {"image": ("in.png", png(), "image/png")},
            },
            4,
        ),
        (
            "upscale",
            "upscale",
            {
                "data": {"prompt": "p", "num_inference_steps": "3"},
                "files": {"image": ("in.png", png(32, 32), "image/png")},
            },
            3,
        ),
    ],
    ids=["t2i-turbo-2-images", "t2i-sd15", "i2i", "i2v", "upscale"],
)
def test_one_progress_event_per_step_then_result(runners, runner, pipeline, request_kwargs, expected_steps):
    events = sse_events(f"{runners.url(runner)}/{pipeline}", **request_kwargs)
    progress = [body for kind, body in events if kind == "progress"]
    assert [p["step"] for p in progress] == list(range(1, expected_steps + 1))
    assert {p["total"] for p in progress} == {expected_steps}
    assert events[-1][0] == "result"
    assert [kind for kind, _ in events].count("result") == 1


def test_image_to_image_keeps_input_size(runners):
    response = HTTP.post(
        f"{runners.url('image-to-image')}/image-to-image",
        data={"prompt": "repaint", "num_inference_steps": "4", "seed": "3"},
        files={"image": ("in.png", png(96, 64), "image/png")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    image = response.json()["images"][0]
    assert image["seed"] == 3
    assert decode(image["url"]).size == (96, 64)


def test_image_to_video_returns_frames_gif_and_mp4(runners):
    response = HTTP.post(
        f"{runners.url('image-to-video')}/image-to-video",
        data={"width": "64", "height": "64", "num_inference_steps": "3", "fps": "8", "seed": "5"},
        files={"image": ("in.png", png(), "image/png")},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    frames = body["frames"][0]
    assert len(frames) == 8  # the tiny SVD's num_frames
    assert all(decode(frame["url"]).size == (64, 64) for frame in frames)
    assert all(frame["seed"] == 5 for frame in frames)
    mime, gif = parse_data_url(body["gif"]["url"])
    assert mime == "image/gif"
    animation = Image.open(io.BytesIO(gif))
    assert animation.n_frames == 8
    # 8 fps is 125 ms; GIF stores delays in hundredths of a second.
    assert 120 <= animation.info["duration"] <= 130
    mime, mp4 = parse_data_url(body["mp4"]["url"])
    assert mime == "video/mp4"
    assert mp4[4:8] == b"ftyp"
    import imageio.v3 as iio

    decoded = iio.imread(mp4, extension=".mp4", plugin="FFMPEG")
    assert decoded.shape[:3] == (8, 64, 64)


def test_image_to_video_same_seed_same_frames(runners):
    url = f"{runners.url('image-to-video')}/image-to-video"
    request = {
        "data": {"width": "64", "height": "64", "num_inference_steps": "2", "seed": "9"},
        "files": {"image": ("in.png", png(), "image/png")},
    }
    first = HTTP.post(url, timeout=120, **request).json()["frames"][0]
    second = HTTP.post(url, timeout=120, **request).json()["frames"][0]
    assert [f["url"] for f in first] == [f["url"] for f in second]


def test_upscale_returns_four_times_the_input(runners):
    response = HTTP.post(
        f"{runners.url('upscale')}/upscale",
        data={"prompt": "sharper", "num_inference_steps": "2", "seed": "1"},
        files={"image": ("in.png", png(40, 24), "image/png")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert decode(response.json()["images"][0]["url"]).size == (160, 96)


def test_frame_interpolation_doubles_the_frame_rate_of_a_gif(runners):
    frames = []
    for x in range(0, 48, 16):
        image = Image.new("RGB", (96, 64), (10, 10, 10))
        image.paste((250, 250, 250), (x, 20, x + 20, 40))
        frames.append(image)
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=166, loop=0)
    response = HTTP.post(
        f"{runners.url('frame-interpolation')}/frame-interpolation",
        data={"multiplier": "2", "fps": "12"},
        files={"video": ("in.gif", buffer.getvalue(), "image/gif")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    out = [np.asarray(decode(frame["url"]).convert("L"), dtype=float) for frame in body["frames"][0]]
    assert len(out) == 5  # (3 - 1) * 2 + 1
    # Between the square centred at x=9.5 and at x=25.5 the synthesized frame has
    # it centred near 17.5 (a cross-fade would show two half-bright squares).
    columns = np.where(out[1].max(axis=0) > 200)[0]
    assert abs(columns.mean() - 17.5) <= 3
    assert 16 <= len(columns) <= 24
    assert body["fps"] == 12
    assert Image.open(io.BytesIO(parse_data_url(body["gif"]["url"])[1])).n_frames == 5


def test_frame_interpolation_reads_an_mp4_upload(runners):
    from livepeer_ai.pipelines.media import encode_mp4

    frames = [Image.new("RGB", (64, 48), (10 * i, 40, 90)) for i in range(4)]
    response = HTTP.post(
        f"{runners.url('frame-interpolation')}/frame-interpolation",
        data={"multiplier": "3"},
        files={"video": ("in.mp4", encode_mp4(frames, 8), "video/mp4")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    out = response.json()["frames"][0]
    assert len(out) == (4 - 1) * 3 + 1
    assert decode(out[0]["url"]).size == (64, 48)


def test_client_streams_progress_and_returns_result(runners):
    """The HTTP client the gateway uses, against a real runner."""
    steps: list[tuple[int, int]] = []
    client = RunnerClient(runners.url("text-to-image"), timeout_s=60)
    result = client.run(
        "text-to-image",
        json_body={"prompt": "client", "width": 64, "height": 64, "num_inference_steps": 3, "seed": 1},
        on_progress=lambda step, total: steps.append((step, total)),
    )
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert result["images"][0]["seed"] == 1
