"""Bad requests against the real runners: each gets the runner API's status and a
message a person can act on, and none of them disturbs the runner."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import HTTP, RUNNERS, RunnerFleet, health
from tests.livepeer_ai.pipelines.test_media_bounds import big_canvas_gif

pytestmark = pytest.mark.integration

MB = 1024 * 1024
BODY_LIMIT = 50 * MB


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A well-formed PNG whose header declares a huge RGB image over a tiny IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + png_chunk(b"IEND", b"")
    )


def two_frame_gif(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    first, second = Image.new("RGB", size, (0, 0, 0)), Image.new("RGB", size, (255, 255, 255))
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    return buffer.getvalue()


def raw_json(body: bytes) -> dict[str, Any]:
    return {"content": body, "headers": {"content-type": "application/json"}}


PNG_64 = ("input.png", png(64, 64), "image/png")
BOMB = ("bomb.png", decompression_bomb_png(), "image/png")
TEXT_FILE = ("notes.txt", b"just some text, not an image\n", "text/plain")
RANDOM_BYTES = ("noise.bin", random.Random(7).randbytes(4096), "application/octet-stream")
GIF_2_FRAMES = ("clip.gif", two_frame_gif(), "image/gif")

T2I_OK: dict[str, Any] = {"prompt": "a red cube", "width": 64, "height": 64, "num_inference_steps": 1}
DROP = object()  # t2i(field=DROP) leaves the field out


def t2i(**changes: Any) -> dict[str, Any]:
    body = {**T2I_OK, **changes}
    return {"json": {k: v for k, v in body.items() if v is not DROP}}


def form(upload_field: str = "image", upload: tuple[str, bytes, str] | None = PNG_64, **fields: Any) -> dict[str, Any]:
    """Multipart even without an upload: text fields travel as file-less parts."""
    parts: list[tuple[str, Any]] = [(name, (None, str(value).encode())) for name, value in fields.items()]
    if upload is not None:
        parts.append((upload_field, upload))
    return {"files": parts}


@dataclass(frozen=True)
class Case:
    runner: str
    request: dict[str, Any]
    status: int
    msg: str  # a substring of detail.msg (or, for 422, of the matching item's msg)
    loc: list[str] = field(default_factory=list)  # 422 only: the item's loc


def case(id_: str, runner: str, request: dict[str, Any], status: int, msg: str, loc: list[str] | None = None) -> Any:
    return pytest.param(Case(runner, request, status, msg, loc or []), id=id_)


I2I = {"prompt": "make it blue", "num_inference_steps": 2}
UPSCALE = {"prompt": "sharp", "num_inference_steps": 1}
JSON_TO_FORM = {"json": {"prompt": "make it blue"}}

CASES = [
    # text-to-image: JSON body
    case("t2i-empty-prompt", "text-to-image", t2i(prompt=""), 400, "prompt must not be empty"),
    case("t2i-whitespace-prompt", "text-to-image", t2i(prompt=" \t\n "), 400, "prompt must not be empty"),
    case("t2i-missing-prompt", "text-to-image", t2i(prompt=DROP), 422, "Field required", ["body", "prompt"]),
    case("t2i-prompt-not-a-string", "text-to-image", t2i(prompt=["a", "b"]), 422, "string", ["body", "prompt"]),
    case("t2i-width-63", "text-to-image", t2i(width=63), 400, "width must be a positive multiple of 8"),
    case("t2i-height-0", "text-to-image", t2i(height=0), 400, "height must be a positive multiple of 8"),
    case("t2i-width-over-limit", "text-to-image", t2i(width=2048), 400, "over this model's limit of 1024"),
    case("t2i-steps-0", "text-to-image", t2i(num_inference_steps=0), 400, "num_inference_steps must be between 1"),
    case("t2i-steps-151", "text-to-image", t2i(num_inference_steps=151), 400, "between 1 and 150, got 151"),
    case("t2i-5-images", "text-to-image", t2i(num_images_per_prompt=5), 400, "num_images_per_prompt must be between"),
    case("t2i-width-abc", "text-to-image", t2i(width="abc"), 422, "valid integer", ["body", "width"]),
    case("t2i-seed-negative", "text-to-image", t2i(seed=-1), 400, "seed must be between 0 and 4294967295"),
    case("t2i-seed-over-32-bits", "text-to-image", t2i(seed=2**32), 400, "seed must be between"),
    case("t2i-guidance-51", "text-to-image", t2i(guidance_scale=51), 400, "guidance_scale must be"),
    case("t2i-other-model", "text-to-image", t2i(model_id="someone/else"), 400, "not 'someone/else'"),
    # LoRAs: the runner's tiny model is SDXL Turbo, whose approved LoRA is livepeer-ai/tiny-sdxl-lora.
    case("t2i-lora-unknown", "text-to-image", t2i(loras='{"a/lora": 1.0}'), 400, "LoRA 'a/lora' is not available"),
    case(
        "t2i-lora-other-base",
        "text-to-image",
        t2i(loras='{"livepeer-ai/tiny-sd15-lora": 1.0}'),
        400,
        "LoRA 'livepeer-ai/tiny-sd15-lora' is not available",
    ),
    case("t2i-5-loras", "text-to-image", t2i(loras=json.dumps(dict.fromkeys("abcde", 1))), 400, "at most 4 LoRAs"),
    case("t2i-loras-not-json", "text-to-image", t2i(loras="{pixel-art: 1}"), 400, "loras must be a JSON object"),
    case("t2i-loras-a-list", "text-to-image", t2i(loras='["a/lora"]'), 400, "loras must be a JSON object"),
    case("t2i-lora-weight-text", "text-to-image", t2i(loras='{"a/lora": "high"}'), 400, 'must be a number, got "high"'),
    case("t2i-lora-weight-bool", "text-to-image", t2i(loras='{"a/lora": true}'), 400, "must be a number, got true"),
    case("t2i-lora-weight-11", "text-to-image", t2i(loras='{"a/lora": 11}'), 400, "between -10 and 10, got 11"),
    case("t2i-lora-weight-nan", "text-to-image", t2i(loras='{"a/lora": NaN}'), 400, "loras must be a JSON object"),
    case("t2i-lora-empty-name", "text-to-image", t2i(loras='{" ": 1}'), 400, "A LoRA name in loras is empty"),
    case("t2i-loras-not-a-string", "text-to-image", t2i(loras={"a/lora": 1}), 422, "string", ["body", "loras"]),
    case(
        "t2i-invalid-json",
        "text-to-image",
        {"content": b'{"prompt": "a cat",', "headers": {"content-type": "application/json"}},
        422,
        "JSON decode error",
        ["body"],
    ),
    case("t2i-json-array", "text-to-image", {"json": [T2I_OK]}, 422, "object", ["body"]),
    case("t2i-nan", "text-to-image", raw_json(b'{"prompt": "x", "guidance_scale": NaN}'), 422, "finite", ["body"]),
    case("t2i-nested-100000", "text-to-image", raw_json(b"[" * 100_000), 422, "nest at most 32", ["body"]),
    case("t2i-lone-surrogate", "text-to-image", raw_json(b'{"prompt": "\\ud800"}'), 422, "surrogate", ["body"]),
    case("t2i-json-over-1-mib", "text-to-image", t2i(prompt="x" * MB), 413, "at most 1024 KiB"),
    # image-to-image: multipart
    case("i2i-missing-image", "image-to-image", form(upload=None, **I2I), 422, "Field required", ["body", "image"]),
    case("i2i-text-file", "image-to-image", form(upload=TEXT_FILE, **I2I), 415, "not a supported image"),
    case("i2i-random-bytes", "image-to-image", form(upload=RANDOM_BYTES, **I2I), 415, "not a supported image"),
    case("i2i-decompression-bomb", "image-to-image", form(upload=BOMB, **I2I), 413, "too large"),
    case("i2i-strength-0", "image-to-image", form(**I2I, strength=0), 400, "strength must be greater than 0"),
    case("i2i-strength-1.5", "image-to-image", form(**I2I, strength=1.5), 400, "at most 1.0, got 1.5"),
    case("i2i-empty-prompt", "image-to-image", form(prompt="", num_inference_steps=2), 400, "prompt must not be"),
    case("i2i-json-body", "image-to-image", JSON_TO_FORM, 422, "multipart/form-data", ["body"]),
    case("i2i-lora-unknown", "image-to-image", form(**I2I, loras='{"x/y": 1}'), 400, "LoRA 'x/y' is not available"),
    case("i2i-5-loras", "image-to-image", form(**I2I, loras=json.dumps(dict.fromkeys("abcde", 1))), 400, "at most 4"),
    # image-to-video: multipart
    case("i2v-missing-image", "image-to-video", form(upload=None, fps=6), 422, "Field required", ["body", "image"]),
    case("i2v-random-bytes", "image-to-video", form(upload=RANDOM_BYTES), 415, "not a supported image"),
    case("i2v-decompression-bomb", "image-to-video", form(upload=BOMB), 413, "too large"),
    case("i2v-fps-0", "image-to-video", form(fps=0), 400, "fps must be at least 1"),
    case("i2v-motion-bucket-300", "image-to-video", form(motion_bucket_id=300), 400, "motion_bucket_id must be"),
    case("i2v-json-body", "image-to-video", {"json": {"fps": 6}}, 422, "multipart/form-data", ["body"]),
    # Inputs too small for the model: each failed inside the pipeline (500 for these two).
    case("i2v-input-1px", "image-to-video", form(upload=("dot.png", png(1, 1), "image/png")), 400, "at least 2 px"),
    case("i2v-8x8", "image-to-video", form(width=8, height=8), 400, "width x height over 64 px"),
    case(
        "interp-frames-10px",
        "frame-interpolation",
        form("video", ("small.gif", two_frame_gif((10, 10)), "image/gif")),
        400,
        "and 12 px along one of them",
    ),
    case(
        "i2i-input-7px", "image-to-image", form(upload=("s.png", png(7, 7), "image/png"), **I2I), 400, "at least 8 px"
    ),
    case(
        "upscale-input-3px", "upscale", form(upload=("s.png", png(3, 3), "image/png"), **UPSCALE), 400, "at least 4 px"
    ),
    # upscale: multipart, the input itself has a side limit (512 for the tiny upscaler)
    case("upscale-missing-image", "upscale", form(upload=None, **UPSCALE), 422, "Field required", ["body", "image"]),
    case("upscale-text-file", "upscale", form(upload=TEXT_FILE, **UPSCALE), 415, "not a supported image"),
    case("upscale-decompression-bomb", "upscale", form(upload=BOMB, **UPSCALE), 413, "too large"),
    case(
        "upscale-input-520-wide",
        "upscale",
        form(upload=("wide.png", png(520, 64), "image/png"), **UPSCALE),
        400,
        "520x64; this model takes up to 512 px a side",
    ),
    case("upscale-json-body", "upscale", JSON_TO_FORM, 422, "multipart/form-data", ["body"]),
    # frame-interpolation: multipart `video`
    case(
        "interp-missing-video",
        "frame-interpolation",
        form(upload=None, multiplier=2),
        422,
        "Field required",
        ["body", "video"],
    ),
    case("interp-still-png", "frame-interpolation", form("video", PNG_64), 415, "at least two frames"),
    case("interp-random-bytes", "frame-interpolation", form("video", RANDOM_BYTES), 415, "not a supported video"),
    case(
        "interp-multiplier-9",
        "frame-interpolation",
        form("video", GIF_2_FRAMES, multiplier=9),
        400,
        "multiplier must be at least 2 and at most 8, got 9",
    ),
    case("interp-json-body", "frame-interpolation", {"json": {"multiplier": 2}}, 422, "multipart", ["body"]),
    case(
        "interp-100-frames-of-2048",
        "frame-interpolation",
        form("video", ("big.gif", big_canvas_gif(), "image/gif")),
        413,
        "100 frames of 2048x2048",
    ),
]


def route(runners: RunnerFleet, name: str) -> str:
    return f"{runners.url(name)}/{RUNNERS[name][0]}"


@pytest.mark.parametrize("bad", CASES)
def test_rejects_bad_input_with_status_and_message(runners: RunnerFleet, bad: Case) -> None:
    response = HTTP.post(route(runners, bad.runner), timeout=60, **bad.request)

    assert response.status_code == bad.status, response.text
    detail = response.json()["detail"]
    if bad.status == 422:
        assert isinstance(detail, list), detail
        assert all(set(item) == {"loc", "msg", "type"} for item in detail), detail
        assert any(item["loc"] == bad.loc and bad.msg in item["msg"] for item in detail), detail
    else:
        assert set(detail) == {"msg"}, detail
        assert bad.msg in detail["msg"]
    # A refused request never takes the job slot.
    assert health(runners.processes[bad.runner].url) == "IDLE"


def test_refuses_body_whose_content_length_is_over_50_mb(runners: RunnerFleet) -> None:
    url = route(runners, "image-to-image")
    oversized = ("big.png", b"\0" * (BODY_LIMIT + 1), "image/png")
    with httpx.Client(timeout=60) as client:
        request = client.build_request("POST", url, files={"image": oversized}, data={"prompt": "x"})
        assert int(request.headers["content-length"]) > BODY_LIMIT
        response = client.send(request)

    assert response.status_code == 413, response.text
    assert "over the 50 MB limit" in response.json()["detail"]["msg"]
    assert health(runners.processes["image-to-image"].url) == "IDLE"


BOUNDARY = "bad-input-test-boundary"


def chunked_multipart(total_bytes: int) -> Iterator[bytes]:
    """A multipart image upload streamed in 1 MB chunks, with no Content-Length."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    sent = 0
    while sent < total_bytes:
        yield b"\0" * MB
        sent += MB
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def send_chunked_over_limit(url: str) -> httpx.Response | None:
    """The response, or None when the server closed the connection on the upload."""
    with httpx.Client(timeout=60) as client:
        request = client.build_request(
            "POST",
            url,
            content=chunked_multipart(BODY_LIMIT + 2 * MB),
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        try:
            response = client.send(request)
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            return None
        response.read()
        return response


def test_refuses_chunked_body_over_50_mb_with_413(runners: RunnerFleet) -> None:
    response = send_chunked_over_limit(route(runners, "image-to-image"))

    assert response is not None, "the runner closed the connection instead of answering 413"
    assert response.status_code == 413, response.text
    assert "over the 50 MB limit" in response.json()["detail"]["msg"]
    assert health(runners.processes["image-to-image"].url) == "IDLE"


def decode_data_url(url: str, mime: str) -> bytes:
    prefix = f"data:{mime};base64,"
    assert url.startswith(prefix), url[:40]
    return base64.b64decode(url[len(prefix) :])


def image_size(url: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(decode_data_url(url, "image/png"))).size


VALID_REQUESTS: dict[str, dict[str, Any]] = {
    "text-to-image": {"json": {**T2I_OK, "seed": 3}},
    "image-to-image": form(**I2I, strength=0.5, seed=3),
    "image-to-video": form(width=64, height=64, num_inference_steps=1, seed=3),
    "upscale": form(upload=("small.png", png(32, 32), "image/png"), **UPSCALE, seed=3),
    "frame-interpolation": form("video", GIF_2_FRAMES, multiplier=2, fps=12),
}


@pytest.mark.parametrize("name", list(VALID_REQUESTS))
def test_runner_still_serves_a_valid_request_after_bad_inputs(runners: RunnerFleet, name: str) -> None:
    url = runners.url(name)  # waits for IDLE
    response = HTTP.post(route(runners, name), timeout=180, **VALID_REQUESTS[name])

    assert response.status_code == 200, response.text
    body = response.json()
    if name in {"text-to-image", "image-to-image"}:
        assert [item["seed"] for item in body["images"]] == [3]
        assert image_size(body["images"][0]["url"]) == (64, 64)
    elif name == "upscale":
        width, height = image_size(body["images"][0]["url"])
        assert width == height > 32
    else:
        frames = body["frames"][0]
        assert frames and all(frame["url"].startswith("data:image/png;base64,") for frame in frames)
        if name == "frame-interpolation":
            assert len(frames) == 3  # (2 - 1) * multiplier + 1
        decode_data_url(body["mp4"]["url"], "video/mp4")
    assert health(url) == "IDLE"
