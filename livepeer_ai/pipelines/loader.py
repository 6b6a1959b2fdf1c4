from __future__ import annotations

from typing import Any

from livepeer_ai.pipelines.base import ModelSpec

# Every pipeline a runner can load.
PIPELINES = (
    "text-to-image",
    "image-to-image",
    "image-to-video",
    "upscale",
    "frame-interpolation",
    "image-to-text",
    "audio-to-text",
    "llm",
    "text-to-speech",
    "segment-anything-2",
)


def load_pipeline(spec: ModelSpec, device: str | None = None) -> Any:
    """Load a registry entry warm, offline, on the chosen device."""
    import os

    # Nothing may reach a hub at run time: weights come from the local folder only.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Loading bars are noise in a long-running service's log.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    if spec.pipeline == "text-to-image":
        from livepeer_ai.pipelines.text_to_image import TextToImage

        return TextToImage(spec, device)
    if spec.pipeline == "image-to-image":
        from livepeer_ai.pipelines.image_to_image import ImageToImage

        return ImageToImage(spec, device)
    if spec.pipeline == "image-to-video":
        from livepeer_ai.pipelines.image_to_video import ImageToVideo

        return ImageToVideo(spec, device)
    if spec.pipeline == "upscale":
        from livepeer_ai.pipelines.upscale import Upscale

        return Upscale(spec, device)
    if spec.pipeline == "frame-interpolation":
        from livepeer_ai.pipelines.frame_interpolation import FrameInterpolation

        return FrameInterpolation(spec, device)
    if spec.pipeline == "image-to-text":
        from livepeer_ai.pipelines.image_to_text import ImageToText

        return ImageToText(spec, device)
    if spec.pipeline == "audio-to-text":
        from livepeer_ai.pipelines.audio_to_text import AudioToText

        return AudioToText(spec, device)
    if spec.pipeline == "llm":
        from livepeer_ai.pipelines.llm import LLM

        return LLM(spec, device)
    if spec.pipeline == "text-to-speech":
        from livepeer_ai.pipelines.text_to_speech import TextToSpeech

        return TextToSpeech(spec, device)
    if spec.pipeline == "segment-anything-2":
        from livepeer_ai.pipelines.segment_anything_2 import SegmentAnything2

        return SegmentAnything2(spec, device)
    raise ValueError(f"Unknown pipeline {spec.pipeline!r}.")
