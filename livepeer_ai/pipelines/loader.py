from __future__ import annotations

import importlib
import os
from typing import Any

from livepeer_ai.pipelines.base import ModelSpec

# Every pipeline a runner can load: its module in this package, its class, and the library that
# draws its loading and step bars (frame interpolation is OpenCV's, and draws none).
PIPELINE_CLASSES: dict[str, tuple[str, str, str]] = {
    "text-to-image": ("text_to_image", "TextToImage", "diffusers"),
    "image-to-image": ("image_to_image", "ImageToImage", "diffusers"),
    "image-to-video": ("image_to_video", "ImageToVideo", "diffusers"),
    "upscale": ("upscale", "Upscale", "diffusers"),
    "frame-interpolation": ("frame_interpolation", "FrameInterpolation", ""),
    "image-to-text": ("image_to_text", "ImageToText", "transformers"),
    "audio-to-text": ("audio_to_text", "AudioToText", "transformers"),
    "llm": ("llm", "LLM", "transformers"),
    "text-to-speech": ("text_to_speech", "TextToSpeech", "transformers"),
    "segment-anything-2": ("segment_anything_2", "SegmentAnything2", "transformers"),
}
PIPELINES = tuple(PIPELINE_CLASSES)


def load_pipeline(spec: ModelSpec, device: str | None = None) -> Any:
    """Load a registry entry warm, offline, on the chosen device."""
    if spec.pipeline not in PIPELINE_CLASSES:
        raise ValueError(f"Unknown pipeline {spec.pipeline!r}.")
    runner_environment()
    module_name, class_name, library = PIPELINE_CLASSES[spec.pipeline]
    quiet_progress_bars(library)
    pipeline_class = getattr(importlib.import_module(f"livepeer_ai.pipelines.{module_name}"), class_name)
    return pipeline_class(spec, device)


def runner_environment() -> None:
    """The Hugging Face libraries' settings a runner needs, set before they are imported."""
    # Nothing may reach a hub at run time: weights come from the local folder only.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Loading bars are noise in a long-running service's log (read when huggingface_hub is imported).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def quiet_progress_bars(library: str) -> None:
    """Loading and step bars off, before the weights load, in the one library the pipeline draws them
    with: importing diffusers costs seconds of a runner's start, so a pipeline that does not use it
    never imports it."""
    if library == "diffusers":
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
    if library in ("diffusers", "transformers"):  # a diffusers pipeline's text and image encoders too
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
