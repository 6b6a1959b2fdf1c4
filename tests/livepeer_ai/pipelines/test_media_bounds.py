"""A video upload is refused by its frames × pixels before it is decoded, so a small file cannot cost gigabytes.

Peak memory is measured in a fresh process, as its peak resident set (VmHWM) reset
just before the call: ru_maxrss would not do, since Linux carries the parent's peak
across fork and exec, and this test session's is larger than what is measured.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from livepeer_ai.pipelines.media import (
    MAX_VIDEO_PIXELS,
    MediaTooLarge,
    UnsupportedMedia,
    decode_video_frames,
    encode_gif,
    measure_upload,
)
from tests.conftest import PYTHON, ROOT

MB = 1024 * 1024


def big_canvas_gif(frames: int = 100, side: int = 2048) -> bytes:
    """`frames` full frames of one colour on a side × side canvas: about 5 KB a frame, 12 MB each decoded.

    Written by hand from one frame Pillow encodes: Pillow's own animated writer would
    need the frames decoded in memory, which is what this GIF is for.
    """
    one = io.BytesIO()
    Image.new("P", (side, side), 0).save(one, format="GIF")
    raw = one.getvalue()
    table_size = 3 * 2 ** ((raw[10] & 0x07) + 1) if raw[10] & 0x80 else 0
    head, position = raw[: 13 + table_size], 13 + table_size
    while raw[position] == 0x21:  # extensions Pillow wrote before the image: skipped
        position = _after_sub_blocks(raw, position + 2)
    image_start = position
    image_end = _after_sub_blocks(raw, image_start + 10 + 1)
    control = b"\x21\xf9\x04\x00\x04\x00\x00\x00"  # graphic control: 40 ms, no disposal
    return head + (control + raw[image_start:image_end]) * frames + b"\x3b"


def _after_sub_blocks(raw: bytes, position: int) -> int:
    while raw[position]:
        position += raw[position] + 1
    return position + 1


MEASURE = """
import json, re, sys
from livepeer_ai.pipelines import media

def peak_kb():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))

raw = open(sys.argv[1], "rb").read()
open("/proc/self/clear_refs", "w").write("5")  # the peak so far (imports) is forgotten: the call's own peak
before = peak_kb()
try:
    outcome = repr(getattr(media, sys.argv[2])(raw, *map(eval, sys.argv[3:])))
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"outcome": outcome[:200], "before_kb": before, "peak_kb": peak_kb()}))
"""


def peak_memory(path: Path, function: str, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [PYTHON, "-c", MEASURE, str(path), function, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def gif_2048(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gif") / "canvas-2048.gif"
    path.write_bytes(big_canvas_gif())
    return path


@pytest.mark.integration
@pytest.mark.parametrize(("function", "args"), [("measure_upload", ["True"]), ("decode_video_frames", [])])
def test_a_small_gif_of_many_big_frames_is_refused_without_decoding_it(gif_2048, function, args):
    """100 frames of 2048x2048 in under 500 KB: 1.2 GB decoded, refused with a few MB."""
    assert gif_2048.stat().st_size < 500 * 1024
    measured = peak_memory(gif_2048, function, *args)
    grew_mb = (int(measured["peak_kb"]) - int(measured["before_kb"])) / 1024
    print(f"{function}: peak RSS grew {grew_mb:.1f} MB refusing a {gif_2048.stat().st_size // 1024} KB GIF")
    # Decoding it, as uploads once were, grew the process by 1.6 GB.
    assert grew_mb < 64, measured
    assert str(measured["outcome"]).startswith("MediaTooLarge: Video is 100 frames of 2048x2048"), measured


@pytest.mark.integration
def test_measuring_a_video_costs_one_frame_not_all(tmp_path):
    """32 frames of 1024x1024 within the bound: 100 MB if all were kept decoded; measured one at a time."""
    path = tmp_path / "canvas-1024.gif"
    path.write_bytes(big_canvas_gif(frames=32, side=1024))
    measured = peak_memory(path, "measure_upload", "True")
    assert measured["outcome"] == "((1024, 1024), 32)", measured
    grew_mb = (int(measured["peak_kb"]) - int(measured["before_kb"])) / 1024
    print(f"measure_upload: peak RSS grew {grew_mb:.1f} MB measuring 32 frames of 1024x1024")
    assert grew_mb < 40, measured


def test_the_refusal_names_the_bound_and_what_would_fit():
    with pytest.raises(MediaTooLarge, match=f"at most {MAX_VIDEO_PIXELS:,} are accepted"):
        measure_upload(big_canvas_gif(frames=17, side=2048), is_video=True)


def test_a_video_within_the_bound_is_measured_and_decoded():
    frames = [Image.new("RGB", (64, 48), (index * 20, 0, 0)) for index in range(5)]
    gif = encode_gif(frames, fps=10)
    assert measure_upload(gif, is_video=True) == ((64, 48), 5)
    decoded = decode_video_frames(gif)
    assert [frame.getpixel((0, 0))[0] for frame in decoded] == [0, 20, 40, 60, 80]
    assert all(frame.mode == "RGB" for frame in decoded)


def test_frames_just_under_the_bound_pass_and_just_over_fail():
    side = 1024
    fitting = MAX_VIDEO_PIXELS // (side * side)
    assert measure_upload(big_canvas_gif(frames=fitting, side=side), is_video=True) == ((side, side), fitting)
    with pytest.raises(MediaTooLarge):
        measure_upload(big_canvas_gif(frames=fitting + 1, side=side), is_video=True)


def test_a_truncated_gif_is_unsupported_not_a_crash():
    gif = big_canvas_gif(frames=3, side=64)
    with pytest.raises(UnsupportedMedia):
        measure_upload(gif[: len(gif) // 2], is_video=True)
