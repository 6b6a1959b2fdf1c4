"""Segment Anything 2's prompts as Livepeer's runner API sends them: JSON arrays as text form fields.

`point_coords` is N×2 (`[x, y]` per point) with `point_labels` N labels (1 foreground,
0 background); `box` is `[x0, y0, x1, y1]`; `mask_input` is a 1×H×W low-resolution mask
in logits (an earlier answer's `logits` entry: 1×256×256 for SAM 2). An empty field is no
prompt, as Livepeer's runner reads it. Coordinates are pixels of the input when
`normalize_coords` is true (Livepeer's default), else fractions of its width and height
(SAM 2's predictor: `normalize_coords`). No torch here: the gateway checks prompts too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from livepeer_ai import json_input

LABELS = (0, 1)
# SAM 2's low-resolution masks are 256 px a side (its 1024 px input / 4); a larger mask_input
# would only be shrunk to that, and as text it would pass the form field's size limit.
MAX_MASK_INPUT_SIDE = 256


class BadPrompt(ValueError):
    """A prompt SAM 2 cannot take, with what is wrong in words (HTTP 400)."""


@dataclass(frozen=True)
class SegmentPrompt:
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = None  # float32, 1×H×W

    @property
    def has_points_or_box(self) -> bool:
        return bool(self.points) or self.box is not None


def parse_prompt(
    point_coords: str | None, point_labels: str | None, box: str | None, mask_input: str | None
) -> SegmentPrompt:
    """The prompt the fields describe, or BadPrompt naming the field and what it should be."""
    points = _points(point_coords) if point_coords else ()
    labels = _labels(point_labels) if point_labels else ()
    if points and not labels:
        raise BadPrompt("point_labels is required with point_coords: one label (1 or 0) per point.")
    if labels and not points:
        raise BadPrompt("point_labels was given without point_coords.")
    if len(points) != len(labels):
        raise BadPrompt(f"point_coords has {len(points)} points but point_labels has {len(labels)} labels.")
    return SegmentPrompt(points, labels, _box(box) if box else None, _mask(mask_input) if mask_input else None)


def check_fits(prompt: SegmentPrompt, size: tuple[int, int], normalize_coords: bool) -> None:
    """Every point and the box lie on the input (`size` is its width, height)."""
    width, height = size
    if normalize_coords:
        limit, unit = (float(width), float(height)), f"the {width}x{height} input (normalize_coords: pixels)"
    else:
        limit, unit = (1.0, 1.0), "[0, 1] (normalize_coords false: fractions of the width and height)"
    corners = [("box", (prompt.box[0], prompt.box[1])), ("box", (prompt.box[2], prompt.box[3]))] if prompt.box else []
    for name, (x, y) in [(f"point_coords[{i}]", point) for i, point in enumerate(prompt.points)] + corners:
        if not (0 <= x <= limit[0] and 0 <= y <= limit[1]):
            raise BadPrompt(f"{name} ({x:g}, {y:g}) is outside {unit}.")


def _json(name: str, text: str) -> Any:
    try:
        return json_input.loads(text)
    except json_input.JsonRefused as exc:
        raise BadPrompt(f"{name} must be a JSON array: {exc}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _points(text: str) -> tuple[tuple[float, float], ...]:
    value = _json("point_coords", text)
    shape = "an N×2 array of [x, y] points, e.g. [[120, 80], [60, 40]]"
    if not isinstance(value, list) or not value:
        raise BadPrompt(f"point_coords must be {shape}.")
    for index, point in enumerate(value):
        if not (isinstance(point, list) and len(point) == 2 and all(_is_number(v) for v in point)):
            raise BadPrompt(f"point_coords[{index}] is {json.dumps(point)[:40]}; point_coords must be {shape}.")
    return tuple((float(x), float(y)) for x, y in value)


def _labels(text: str) -> tuple[int, ...]:
    value = _json("point_labels", text)
    if not (isinstance(value, list) and value and all(v in LABELS and not isinstance(v, bool) for v in value)):
        raise BadPrompt("point_labels must be an array of 1 (foreground) and 0 (background), one per point.")
    return tuple(int(v) for v in value)


def _box(text: str) -> tuple[float, float, float, float]:
    value = _json("box", text)
    if not (isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)):
        raise BadPrompt("box must be 4 numbers, [x0, y0, x1, y1] (its top-left and bottom-right corners).")
    x0, y0, x1, y1 = (float(v) for v in value)
    if x0 > x1 or y0 > y1:
        raise BadPrompt(f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] must have x0 <= x1 and y0 <= y1.")
    return x0, y0, x1, y1


def _mask(text: str) -> np.ndarray:
    value = _json("mask_input", text)
    shape = f"a 1×H×W array of numbers (H, W at most {MAX_MASK_INPUT_SIDE}), such as an answer's logits entry"
    rows = value[0] if isinstance(value, list) and len(value) == 1 else None
    if not (isinstance(rows, list) and 0 < len(rows) <= MAX_MASK_INPUT_SIDE and isinstance(rows[0], list)):
        raise BadPrompt(f"mask_input must be {shape}.")
    width = len(rows[0])
    if not 0 < width <= MAX_MASK_INPUT_SIDE or any(
        not isinstance(row, list) or len(row) != width or not all(_is_number(v) for v in row) for row in rows
    ):
        raise BadPrompt(f"mask_input must be {shape}; its rows must all be {width} numbers.")
    try:
        with np.errstate(over="ignore"):
            mask = np.asarray(value, dtype=np.float64).astype(np.float32)
    except OverflowError:
        mask = np.array([np.inf], dtype=np.float32)
    if not np.isfinite(mask).all():
        raise BadPrompt("mask_input's values must be finite 32-bit floats.")
    return mask
