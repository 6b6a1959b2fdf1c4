from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from livepeer_ai.pipelines.base import ModelSpec

# Every pipeline a runner can load: its module in this package and its class.
PIPELINE_CLASSES: dict[str, tuple[str, str]] = {
    "text-to-image": ("text_to_image", "TextToImage"),
    "image-to-image": ("image_to_image", "ImageToImage"),
    "image-to-video": ("image_to_video", "ImageToVideo"),
    "upscale": ("upscale", "Upscale"),
    "frame-interpolation": ("frame_interpolation", "FrameInterpolation"),
    "image-to-text": ("image_to_text", "ImageToText"),
    "audio-to-text": ("audio_to_text", "AudioToText"),
    "llm": ("llm", "LLM"),
    "text-to-speech": ("text_to_speech", "TextToSpeech"),
    "segment-anything-2": ("segment_anything_2", "SegmentAnything2"),
}
PIPELINES = tuple(PIPELINE_CLASSES)


def load_pipeline(spec: ModelSpec, device: str | None = None) -> Any:
    """Load a registry entry warm, offline, on the chosen device."""
    if spec.pipeline not in PIPELINE_CLASSES:
        raise ValueError(f"Unknown pipeline {spec.pipeline!r}.")
    # Nothing may reach a hub at run time: weights come from the local folder only.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Loading bars are noise in a long-running service's log (read when huggingface_hub is imported).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    module_name, class_name = PIPELINE_CLASSES[spec.pipeline]
    pipeline_class = getattr(importlib.import_module(f"livepeer_ai.pipelines.{module_name}"), class_name)
    quiet_progress_bars()
    return pipeline_class(spec, device)


def quiet_progress_bars() -> None:
    """Step bars off, in the libraries the pipeline imported only: importing diffusers costs seconds
    of a runner's start, and frame interpolation (OpenCV) needs neither it nor transformers."""
    if "diffusers" in sys.modules:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
