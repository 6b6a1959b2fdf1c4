from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass
class GeneratedImage:
    image: Image.Image
    seed: int
    # No safety checker ships with the tiny models; `nsfw_checked` says whether
    # `nsfw` means anything, so a gallery can hold unchecked outputs back.
    nsfw: bool = False
    nsfw_checked: bool = False


@dataclass
class GeneratedVideo:
    frames: list[Image.Image]
    fps: float
    seed: int
    nsfw: bool = False
    nsfw_checked: bool = False
