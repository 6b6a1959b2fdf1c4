from __future__ import annotations

from typing import Any

from PIL import Image

from livepeer_ai.pipelines.base import CancelToken, JobCanceled, ModelSpec, ProgressCallback, StepCounter
from livepeer_ai.pipelines.device import pick_device
from livepeer_ai.pipelines.outputs import GeneratedImage


class Upscale:
    pipeline = "upscale"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from diffusers import StableDiffusionUpscalePipeline

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        self.pipe = StableDiffusionUpscalePipeline.from_pretrained(
            spec.local_path, local_files_only=True, dtype=self.dtype
        ).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)

    @property
    def factor(self) -> int:
        return int(2 ** (len(self.pipe.vae.config.block_out_channels) - 1))

    def __call__(
        self,
        *,
        prompt: str,
        image: Image.Image,
        negative_prompt: str,
        num_inference_steps: int,
        seed: int,
        on_progress: ProgressCallback,
        cancel: CancelToken,
    ) -> list[GeneratedImage]:
        counter = StepCounter(num_inference_steps, on_progress, cancel)

        # The upscaler only has the legacy per-step callback and no interrupt flag.
        def on_step(step: int, timestep: Any, latents: Any) -> None:
            counter.advance()
            if cancel.canceled:
                raise JobCanceled("Job canceled.")

        generator = self.torch.Generator(device=self.device).manual_seed(seed)
        output = self.pipe(
            prompt=prompt,
            image=image,
            negative_prompt=negative_prompt or None,
            num_inference_steps=num_inference_steps,
            generator=generator,
            callback=on_step,
            callback_steps=1,
        )
        return [GeneratedImage(image=output.images[0], seed=seed)]
