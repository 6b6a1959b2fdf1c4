"""segment-anything-2's prompts read from Livepeer's text fields: what is taken, and what is refused with why."""

from __future__ import annotations

import pytest

from livepeer_ai.pipelines.media import UnsupportedMedia, is_still_image, measure_image_or_video
from livepeer_ai.pipelines.segment_prompts import BadPrompt, check_fits, parse_prompt
from livepeer_ai.runner.schemas import BadValue, SegmentAnything2Params, check_segment_input
from tests.livepeer_ai.runner.test_pipelines_http import png
from tests.livepeer_ai.runner.test_segment_anything_2_route import gif


def test_points_labels_box_and_mask_are_read_and_empty_fields_are_no_prompt():
    prompt = parse_prompt("[[10, 20.5], [3, 4]]", "[1, 0]", "[1, 2, 30, 40]", "[[[0.5, -1], [2, 3]]]")
    assert prompt.points == ((10.0, 20.5), (3.0, 4.0)) and prompt.labels == (1, 0)
    assert prompt.box == (1.0, 2.0, 30.0, 40.0)
    assert prompt.mask is not None and prompt.mask.shape == (1, 2, 2) and prompt.mask.dtype.name == "float32"
    empty = parse_prompt("", "", "", "")
    assert not empty.has_points_or_box and empty.mask is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("[[1, 2]", "[1]", None, None), "point_coords must be a JSON array"),
        (("[]", "[1]", None, None), "N×2 array"),
        (("[[1, true]]", "[1]", None, None), "point_coords[0]"),
        (('[[1, "2"]]', "[1]", None, None), "point_coords[0]"),
        (("[[1, NaN]]", "[1]", None, None), "point_coords must be a JSON array"),
        (("[[1, 2], [3, 4]]", "[1]", None, None), "2 points but point_labels has 1"),
        (("[[1, 2]]", None, None, None), "point_labels is required with point_coords"),
        ((None, "[1]", None, None), "point_labels was given without point_coords"),
        (("[[1, 2]]", "[true]", None, None), "1 (foreground) and 0 (background)"),
        (("[[1, 2]]", "[-1]", None, None), "1 (foreground) and 0 (background)"),
        ((None, None, '{"x0": 1}', None), "box must be 4 numbers"),
        ((None, None, "[5, 6, 1, 2]", None), "x0 <= x1 and y0 <= y1"),
        ((None, None, None, "[[[1e39]]]"), "finite 32-bit floats"),
        ((None, None, None, f"[[{[0] * 257}]]"), "at most 256"),
        ((None, None, None, "[[[1]], [[2]]]"), "1×H×W"),
    ],
    ids=[
        "coords truncated",
        "no points",
        "a bool coordinate",
        "a text coordinate",
        "NaN",
        "lengths differ",
        "labels missing",
        "coords missing",
        "a bool label",
        "label -1",
        "box not a list",
        "box inverted",
        "mask overflows float32",
        "mask too wide",
        "two masks",
    ],
)
def test_malformed_prompts_say_what_is_wrong(fields, message):
    with pytest.raises(BadPrompt) as refused:
        parse_prompt(*fields)
    assert message in str(refused.value)


def test_points_and_box_must_lie_on_the_input():
    check_fits(parse_prompt("[[0, 0], [40, 30]]", "[1, 1]", "[0, 0, 40, 30]", None), (40, 30), True)
    check_fits(parse_prompt("[[0.5, 1]]", "[1]", None, None), (40, 30), False)
    with pytest.raises(BadPrompt, match=r"box \(41, 30\) is outside the 40x30 input"):
        check_fits(parse_prompt(None, None, "[0, 0, 41, 30]", None), (40, 30), True)
    with pytest.raises(BadPrompt, match=r"point_coords\[0\] \(-1, 3\) is outside"):
        check_fits(parse_prompt("[[-1, 3]]", "[1]", None, None), (40, 30), True)
    with pytest.raises(BadPrompt, match=r"\[0, 1\]"):
        check_fits(parse_prompt("[[2, 0.5]]", "[1]", None, None), (40, 30), False)


def test_an_input_is_an_image_or_a_video_by_its_content():
    assert is_still_image(png(40, 30)) and not is_still_image(gif(frames=3)) and not is_still_image(b"text")
    assert measure_image_or_video(png(40, 30)) == ((40, 30), 0)
    assert measure_image_or_video(gif(frames=3, width=32, height=24)) == ((32, 24), 3)
    with pytest.raises(UnsupportedMedia, match="not a supported image .* or video"):
        measure_image_or_video(b"plain text")


def test_a_videos_masks_may_hold_as_many_values_as_an_images_three_at_the_side_limit():
    params = SegmentAnything2Params(point_coords="[[1, 1]]", point_labels="[1]")
    check_segment_input(params, (256, 256), 12, max_side=512)  # 12 × 256² = 3 × 512²
    with pytest.raises(BadValue, match="13 frames of 256x256; this model follows an object through at most 786,432"):
        check_segment_input(params, (256, 256), 13, max_side=512)
    check_segment_input(params, (512, 512), 0, max_side=512)  # an image is held to its side only
