from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import models


class Pipeline(models.TextChoices):
    TEXT_TO_IMAGE = "text-to-image"
    IMAGE_TO_IMAGE = "image-to-image"
    IMAGE_TO_VIDEO = "image-to-video"
    UPSCALE = "upscale"
    FRAME_INTERPOLATION = "frame-interpolation"


class Family(models.TextChoices):
    """How a folder is loaded: decides the diffusers class and model quirks."""

    SD15 = "sd15", "Stable Diffusion 1.x"
    SDXL = "sdxl", "Stable Diffusion XL"
    # Turbo and Lightning distillations run without classifier-free guidance
    # (protocol §1.4: the runner forces guidance_scale=0 for them).
    SDXL_TURBO = "sdxl-turbo", "SDXL Turbo / Lightning"
    SVD = "svd", "Stable Video Diffusion"
    SD_X4_UPSCALER = "sd-x4-upscaler", "SD x4 upscaler"
    OPTICAL_FLOW = "optical-flow", "OpenCV optical flow (no weights)"
    TORCHSCRIPT_INTERPOLATOR = "torchscript-interpolator", "Learned interpolator (TorchScript)"


class ModelEntry(models.Model):
    """A model a runner may load, and the local folder or file its weights live in.

    A tiny random-weight build and a real checkpoint look the same here: point
    `local_path` at a diffusers folder (or a TorchScript file) and the runner loads
    it offline.
    """

    pipeline = models.CharField(max_length=32, choices=Pipeline.choices)
    model_id = models.CharField(max_length=200)
    family = models.CharField(max_length=32, choices=Family.choices)
    local_path = models.CharField(max_length=500, blank=True)
    # Largest width or height (pixels) a request may ask of this model, and the
    # largest input image side it accepts.
    max_side = models.PositiveIntegerField(default=1024)
    # Device memory one runner of this model needs, in MiB; an orchestrator places
    # no more runners on a device than its memory budget holds (0 = not counted).
    memory_mb = models.PositiveIntegerField(default=0)
    default_parameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "model_id"], name="unique_pipeline_model"),
        ]
        ordering = ["pipeline", "model_id"]
        verbose_name_plural = "model entries"

    def __str__(self) -> str:
        return f"{self.pipeline}: {self.model_id}"

    def spec(self) -> dict[str, Any]:
        """What a runner needs to load this entry, without touching the DB again."""
        return {
            "pipeline": self.pipeline,
            "model_id": self.model_id,
            "family": self.family,
            "local_path": str(Path(self.local_path)) if self.local_path else "",
            "max_side": self.max_side,
            "memory_mb": self.memory_mb,
            "default_parameters": dict(self.default_parameters),
        }
