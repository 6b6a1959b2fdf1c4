from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from livepeer_ai.pipelines.base import CancelToken, ModelSpec, ProgressCallback, StepCounter, image_seeds
from livepeer_ai.pipelines.device import pick_device
from livepeer_ai.pipelines.loras import LoraAdapters, LoraRequest
from livepeer_ai.pipelines.outputs import GeneratedImage
from livepeer_ai.pipelines.previews import Previewer

# Families distilled to run without classifier-free guidance (docs/protocol.md §1.4).
NO_GUIDANCE_FAMILIES = {"sdxl-turbo"}


def interrupting_callback(counter: StepCounter, steps_per_image: int = 0) -> Any:
    """A `callback_on_step_end` that reports each step (with a preview of its latents when
    asked for) and stops the loop on cancel.

    SD and SDXL check `pipe._interrupt` before every step; the caller raises
    JobCanceled once the pipeline returns.
    """

    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        counter.advance(callback_kwargs.get("latents"), step + 1, steps_per_image)
        if counter.cancel.canceled:
            pipe._interrupt = True
        return callback_kwargs

    return on_step_end


class TextToImage:
    pipeline = "text-to-image"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from diffusers import AutoPipelineForText2Image

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        self.pipe = AutoPipelineForText2Image.from_pretrained(
            spec.local_path, local_files_only=True, dtype=self.dtype
        ).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.loras = LoraAdapters(self.pipe, spec.max_loaded_loras)

    def __call__(
        self,
        *,
        prompt: str,
        negative_prompt: str,
        width: int,
        height: int,
        guidance_scale: float,
        num_inference_steps: int,
        num_images_per_prompt: int,
        seed: int,
        on_progress: ProgressCallback,
        cancel: CancelToken,
        loras: Sequence[LoraRequest] = (),
        previews: bool = False,
    ) -> list[GeneratedImage]:
        """`previews`: send a cheap preview with some steps' progress (pipelines/previews.py)."""
        # Exactly this request's adapters, or none: nothing carries over from the last request.
        self.loras.apply(loras)
        if self.spec.family in NO_GUIDANCE_FAMILIES:
            guidance_scale = 0.0
        previewer = Previewer(num_inference_steps) if previews else None
        counter = StepCounter(num_inference_steps * num_images_per_prompt, on_progress, cancel, previewer)
        results = []
        # One image at a time, seeds seed, seed+1, … (docs/protocol.md §1.3): less memory,
        # and image k is the same whatever num_images_per_prompt was.
        for image_seed in image_seeds(seed, num_images_per_prompt):
            generator = self.torch.Generator(device=self.device).manual_seed(image_seed)
            output = self.pipe(
                prompt=prompt,
                negative_prompt=negative_prompt or None,
                width=width,
                height=height,
                guidance_scale=guidance_scale,
                num_inference_steps=num_inference_steps,
                generator=generator,
                callback_on_step_end=interrupting_callback(counter, num_inference_steps),
            )
            cancel.raise_if_canceled()
            results.append(GeneratedImage(image=output.images[0], seed=image_seed))
        return results
