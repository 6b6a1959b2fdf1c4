"""Cheap previews of a picture while it is denoised, as ComfyUI and A1111 show them.

No VAE: the latents go through the well-known linear per-channel map of Stable
Diffusion's 4-channel latent space to RGB (SVD's latents are the same space), then
are shrunk to at most PREVIEW_SIDE pixels and sent as a small JPEG data URL. They
are bounded so they cannot slow the job: at most one every `every` steps (about
MAX_PER_JOB per image), at most one per MIN_INTERVAL_S, at most MAX_BYTES each.
"""

from __future__ import annotations

import base64
import io
import math
import time
from typing import Any

import numpy as np
from PIL import Image

PREVIEW_SIDE = 128
MAX_PER_JOB = 8
MIN_INTERVAL_S = 0.25
MAX_BYTES = 16_000
JPEG_QUALITY = 70
PREVIEW_PREFIX = "data:image/jpeg;base64,"
# A caller that wants previews on a streamed job's progress events sends this header with "1".
PREVIEWS_HEADER = "Livepeer-Previews"
# The pipelines that can send them.
PREVIEW_PIPELINES = frozenset({"text-to-image", "image-to-video"})

# SD 1.5 / SDXL latent channel -> RGB factors (rows: latent channels), as community previewers use.
LATENT_RGB_FACTORS = np.array(
    [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ],
    dtype=np.float32,
)


def latents_to_rgb(latents: Any) -> Image.Image:
    """One picture from a (C, H, W) latent: the linear map for 4 channels, else the first three scaled."""
    array = np.asarray(latents, dtype=np.float32)
    if array.shape[0] == 4:
        rgb = np.einsum("chw,cr->hwr", array, LATENT_RGB_FACTORS)
        rgb = (rgb + 1.0) * 127.5
    else:
        rgb = np.moveaxis(array[:3], 0, -1)
        low, high = float(rgb.min()), float(rgb.max())
        rgb = (rgb - low) / max(high - low, 1e-6) * 255.0
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def encode_preview(image: Image.Image) -> str | None:
    """A JPEG data URL of at most PREVIEW_SIDE px a side, or None when it would exceed MAX_BYTES."""
    scale = PREVIEW_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    buffer = io.BytesIO()
    image.resize(size, Image.Resampling.BILINEAR).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    raw = buffer.getvalue()
    if len(raw) > MAX_BYTES:
        return None
    return PREVIEW_PREFIX + base64.b64encode(raw).decode()


def is_preview(value: object) -> bool:
    """What a caller may pass on: a JPEG data URL within the size bound (a node's field is not trusted)."""
    return (
        isinstance(value, str)
        and value.startswith(PREVIEW_PREFIX)
        and len(value) <= len(PREVIEW_PREFIX) + math.ceil(MAX_BYTES / 3) * 4
    )


class Previewer:
    """Decides when a step gets a preview, and renders it from that step's latents."""

    def __init__(self, steps_per_image: int, clock: Any = time.monotonic) -> None:
        self.every = max(1, math.ceil(steps_per_image / MAX_PER_JOB))
        self.clock = clock
        self.last_sent: float | None = None

    def due(self, step_in_image: int, steps_per_image: int) -> bool:
        """Every `every` steps, not on an image's last step (its result follows), and not too soon."""
        if step_in_image % self.every != 0 or step_in_image >= steps_per_image:
            return False
        return self.last_sent is None or self.clock() - self.last_sent >= MIN_INTERVAL_S

    def render(self, latents: Any) -> str | None:
        """`latents`: a torch tensor of (B, C, H, W) or, for video, (B, F, C, H, W): the middle frame."""
        sample = latents[0]
        if sample.ndim == 4:
            sample = sample[sample.shape[0] // 2]
        preview = encode_preview(latents_to_rgb(sample.detach().float().cpu().numpy()))
        self.last_sent = self.clock()
        return preview
