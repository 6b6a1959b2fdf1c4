"""What every pipeline shares: its spec, progress reporting, cancellation, seeds, errors."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from livepeer_ai.pipelines.previews import Previewer


class ProgressCallback(Protocol):
    """Called once per denoising step (or per interpolated frame): (step, total), 1-based; with
    `preview` (a small JPEG data URL, pipelines/previews.py) on the steps that have one."""

    def __call__(self, step: int, total: int, /, preview: str | None = None) -> None: ...


MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class ModelSpec:
    pipeline: str
    model_id: str
    family: str
    local_path: str
    max_side: int = 1024
    default_parameters: dict[str, Any] = field(default_factory=dict)
    # The runner's own setting, not the registry's: how many LoRA adapters it keeps loaded
    # at once (text-to-image and image-to-image; pipelines/loras.py).
    max_loaded_loras: int = 8

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSpec:
        return cls(
            pipeline=raw["pipeline"],
            model_id=raw["model_id"],
            family=raw["family"],
            local_path=raw.get("local_path", ""),
            max_side=int(raw.get("max_side", 1024)),
            default_parameters=dict(raw.get("default_parameters") or {}),
        )


class InvalidParameters(ValueError):
    """The caller asked for something this model cannot do (HTTP 400)."""


class JobCanceled(Exception):
    """The job was canceled while it ran."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def canceled(self) -> bool:
        return self._event.is_set()

    def raise_if_canceled(self) -> None:
        if self._event.is_set():
            raise JobCanceled("Job canceled.")


def resolve_seed(seed: int | None) -> int:
    """docs/protocol.md §1.2: a missing seed is random in [0, 2^32-1]."""
    if seed is None:
        return random.randint(0, MAX_SEED)
    return seed


def image_seeds(seed: int, count: int) -> list[int]:
    """docs/protocol.md §1.3: images are generated one at a time with seed, seed+1, …"""
    return [(seed + i) % (MAX_SEED + 1) for i in range(count)]


class StepCounter:
    """Turns per-image diffusers callbacks into one running (step, total) count."""

    def __init__(
        self, total: int, on_progress: ProgressCallback, cancel: CancelToken, previewer: Previewer | None = None
    ) -> None:
        self.total = total
        self.step = 0
        self.on_progress = on_progress
        self.cancel = cancel
        self.previewer = previewer

    def advance(self, latents: Any = None, step_in_image: int = 0, steps_per_image: int = 0) -> None:
        """`latents`: this step's, for a preview when one was asked for and is due."""
        self.step += 1
        previewer = self.previewer
        if previewer is not None and latents is not None and previewer.due(step_in_image, steps_per_image):
            preview = previewer.render(latents)
            if preview is not None:
                self.on_progress(self.step, self.total, preview=preview)
                return
        self.on_progress(self.step, self.total)
