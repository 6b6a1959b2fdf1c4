"""Units billed per job, the same rule on both sides (docs/protocol.md §2.4), and the fee."""

from __future__ import annotations

from typing import Any

from livepeer_ai.runner.schemas import (
    FrameInterpolationParams,
    ImageToImageParams,
    ImageToVideoParams,
    LLMParams,
    RunnerParams,
    TextToImageParams,
)

# image-to-video bills h × w × 25 whatever the frame count (docs/protocol.md §2.4).
I2V_BILLED_FRAMES = 25


def _int(fields: dict[str, Any], name: str, params: type[RunnerParams]) -> int:
    """`fields[name]` as sent, or the runner's own default for it: what is billed is what is generated."""
    default = int(params.model_fields[name].default)
    try:
        return int(fields.get(name, default))
    except (TypeError, ValueError):
        return default


def units_for(
    pipeline: str,
    fields: dict[str, Any],
    input_size: tuple[int, int] | None = None,
    input_frames: int = 0,
    input_ms: int = 0,
) -> int:
    """Units billed: pixels, for audio-to-text milliseconds of audio (`input_ms`, measured
    by decoding it), for llm tokens, for text-to-speech characters of the text. `input_size` is
    (width, height) of the uploaded image or video frame, `input_frames` a video's frame count
    (0 for a still image)."""
    if pipeline == "audio-to-text":
        # Livepeer bills transcription by the audio's duration in milliseconds.
        return input_ms
    if pipeline == "llm":
        # The most tokens the answer may have, as Livepeer bills it: known before the job runs.
        return _int(fields, "max_tokens", LLMParams)
    if pipeline == "text-to-speech":
        return speech_characters(fields)
    if pipeline == "text-to-image":
        t2i = TextToImageParams
        return _int(fields, "width", t2i) * _int(fields, "height", t2i) * _int(fields, "num_images_per_prompt", t2i)
    if pipeline == "image-to-video":
        return (
            _int(fields, "width", ImageToVideoParams) * _int(fields, "height", ImageToVideoParams) * I2V_BILLED_FRAMES
        )
    width, height = input_size or (0, 0)
    if pipeline == "image-to-image":
        return width * height * _int(fields, "num_images_per_prompt", ImageToImageParams)
    if pipeline in ("upscale", "image-to-text"):
        # Both bill the input image's pixels, whatever the output.
        return width * height
    if pipeline == "segment-anything-2":
        # The input's pixels, as Livepeer bills it; a video (ours) every frame's.
        return width * height * max(1, input_frames)
    if pipeline == "frame-interpolation":
        # Our addition: every output frame at the input size.
        multiplier = _int(fields, "multiplier", FrameInterpolationParams)
        return width * height * max(0, (input_frames - 1) * multiplier + 1)
    raise ValueError(f"unknown pipeline {pipeline!r}")


def speech_characters(fields: dict[str, Any]) -> int:
    """text-to-speech's units: the text's length as go-livepeer takes it (`len(text)` in Go), its UTF-8
    bytes: one per ASCII character, two for "é", three for "語". Known before the job runs."""
    text = fields.get("text", "")
    # A text that is not a string is refused by the runner (422) before anything is generated.
    return len(text.encode("utf-8")) if isinstance(text, str) else 0


def manifest_id(pipeline: str, model_id: str) -> str:
    """go-livepeer's manifestID for AI jobs: "<capability>_<model_id>" (docs/protocol.md §2.4)."""
    return f"{pipeline}_{model_id}"


def fee_wei(units: int, price_per_unit: int, pixels_per_unit: int) -> int:
    """fee = units × pricePerUnit / pixelsPerUnit, in integer wei, rounded up."""
    return -(-units * price_per_unit // pixels_per_unit)
