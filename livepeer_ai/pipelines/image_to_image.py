from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image

from livepeer_ai.pipelines.base import (
    CancelToken,
    InvalidParameters,
    ModelSpec,
    ProgressCallback,
    StepCounter,
    image_seeds,
)
from livepeer_ai.pipelines.device import pick_device
from livepeer_ai.pipelines.loras import LoraAdapters, LoraRequest
from livepeer_ai.pipelines.outputs import GeneratedImage
from livepeer_ai.pipelines.text_to_image import NO_GUIDANCE_FAMILIES, interrupting_callback


def effective_steps(num_inference_steps: int, strength: float) -> int:
    """Image-to-image denoises only the last `strength` of the schedule."""
    return min(int(num_inference_steps * strength), num_inference_steps)


class ImageToImage:
    pipeline = "image-to-image"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from diffusers import AutoPipelineForImage2Image

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        self.pipe = AutoPipelineForImage2Image.from_pretrained(
            spec.local_path, local_files_only=True, dtype=self.dtype
        ).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.loras = LoraAdapters(self.pipe, spec.max_loaded_loras)

    def __call__(
        self,
        *,
        prompt: str,
        image: Image.Image,
        negative_prompt: str,
        strength: float,
        guidance_scale: float,
        num_inference_steps: int,
        num_images_per_prompt: int,
        seed: int,
        on_progress: ProgressCallback,
        cancel: CancelToken,
        loras: Sequence[LoraRequest] = (),
    ) -> list[GeneratedImage]:
        # Exactly this request's adapters, or none: nothing carries over from the last request.
        self.loras.apply(loras)
        if self.spec.family in NO_GUIDANCE_FAMILIES:
            guidance_scale = 0.0
            # The Turbo runner raises the step count so at least one step runs
            # (ai-runner image_to_image.py does the same).
            if num_inference_steps * strength < 1:
                num_inference_steps = math.ceil(1.0 / strength)
        steps = effective_steps(num_inference_steps, strength)
        if steps < 1:
            raise InvalidParameters(
                f"num_inference_steps x strength must be at least 1 (got {num_inference_steps} x {strength})."
            )
        counter = StepCounter(steps * num_images_per_prompt, on_progress, cancel)
        results = []
        for image_seed in image_seeds(seed, num_images_per_prompt):
            generator = self.torch.Generator(device=self.device).manual_seed(image_seed)
            output = self.pipe(
                prompt=prompt,
                image=image,
                negative_prompt=negative_prompt or None,
                strength=strength,
                guidance_scale=guidance_scale,
                num_inference_steps=num_inference_steps,
                generator=generator,
                callback_on_step_end=interrupting_callback(counter),
            )
            cancel.raise_if_canceled()
            results.append(GeneratedImage(image=output.images[0], seed=image_seed))
        return results
