from __future__ import annotations

from typing import Any

from PIL import Image

from livepeer_ai.pipelines.base import CancelToken, JobCanceled, ModelSpec, ProgressCallback, StepCounter
from livepeer_ai.pipelines.device import pick_device
from livepeer_ai.pipelines.outputs import GeneratedVideo
from livepeer_ai.pipelines.previews import Previewer

# The runner forces this to save memory; it is not an API field (docs/protocol.md §1.2).
DECODE_CHUNK_SIZE = 4


class ImageToVideo:
    pipeline = "image-to-video"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from diffusers import StableVideoDiffusionPipeline

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        self.pipe = StableVideoDiffusionPipeline.from_pretrained(
            spec.local_path, local_files_only=True, dtype=self.dtype
        ).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)

    @property
    def num_frames(self) -> int:
        return int(self.pipe.unet.config.num_frames)

    def __call__(
        self,
        *,
        image: Image.Image,
        width: int,
        height: int,
        fps: int,
        motion_bucket_id: int,
        noise_aug_strength: float,
        num_inference_steps: int,
        seed: int,
        on_progress: ProgressCallback,
        cancel: CancelToken,
        previews: bool = False,
    ) -> GeneratedVideo:
        """`previews`: send a cheap preview of the middle frame with some steps' progress."""
        previewer = Previewer(num_inference_steps) if previews else None
        counter = StepCounter(num_inference_steps, on_progress, cancel, previewer)

        # SVD has no interrupt flag, so cancellation raises out of the loop.
        def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            counter.advance(callback_kwargs.get("latents"), step + 1, num_inference_steps)
            if cancel.canceled:
                raise JobCanceled("Job canceled.")
            return callback_kwargs

        generator = self.torch.Generator(device=self.device).manual_seed(seed)
        output = self.pipe(
            image=image,
            width=width,
            height=height,
            fps=fps,
            motion_bucket_id=motion_bucket_id,
            noise_aug_strength=noise_aug_strength,
            num_inference_steps=num_inference_steps,
            decode_chunk_size=DECODE_CHUNK_SIZE,
            generator=generator,
            callback_on_step_end=on_step_end,
        )
        return GeneratedVideo(frames=list(output.frames[0]), fps=fps, seed=seed)
