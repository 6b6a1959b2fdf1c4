"""Units billed for fields a request leaves out are the runner's own defaults: what is billed is what is generated."""

from __future__ import annotations

from typing import Any

import pytest

from livepeer_ai.protocol.units import I2V_BILLED_FRAMES, units_for
from livepeer_ai.runner.schemas import (
    FrameInterpolationParams,
    ImageToImageParams,
    ImageToVideoParams,
    TextToImageParams,
)


@pytest.mark.parametrize(
    "fields", [{"prompt": "a cat"}, {"prompt": "a cat", "width": 512}, {"prompt": "a", "height": 64}]
)
def test_text_to_image_bills_the_size_the_runner_generates(fields: dict[str, Any]) -> None:
    generated = TextToImageParams.model_validate(fields)
    assert units_for("text-to-image", fields) == generated.width * generated.height * generated.num_images_per_prompt


def test_image_to_video_bills_the_runners_default_size_times_the_billed_frames() -> None:
    generated = ImageToVideoParams.model_validate({})
    assert units_for("image-to-video", {}) == generated.width * generated.height * I2V_BILLED_FRAMES


def test_image_to_image_and_interpolation_bill_the_runners_default_counts() -> None:
    images = ImageToImageParams.model_validate({"prompt": "a"}).num_images_per_prompt
    assert units_for("image-to-image", {"prompt": "a"}, input_size=(40, 30)) == 40 * 30 * images
    multiplier = FrameInterpolationParams.model_validate({}).multiplier
    assert units_for("frame-interpolation", {}, input_size=(10, 8), input_frames=5) == 10 * 8 * (4 * multiplier + 1)


def test_the_billed_defaults_change_with_the_runners(monkeypatch: pytest.MonkeyPatch) -> None:
    """One place defines them: a runner that generated 512 wide by default would be billed 512 wide."""
    monkeypatch.setattr(TextToImageParams.model_fields["width"], "default", 512)
    assert units_for("text-to-image", {"prompt": "a cat"}) == 512 * 576
