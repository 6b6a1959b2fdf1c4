"""Image captioning with a BLIP model through transformers; a prompt starts the caption."""

from __future__ import annotations

from PIL import Image

from livepeer_ai.pipelines.base import CancelToken, ModelSpec, ProgressCallback
from livepeer_ai.pipelines.device import pick_device

# BLIP's captions are a sentence; this bounds a model that never says it is done.
MAX_NEW_TOKENS = 64


class ImageToText:
    pipeline = "image-to-text"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from transformers import BlipForConditionalGeneration, BlipProcessor

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        self.processor = BlipProcessor.from_pretrained(spec.local_path, local_files_only=True)
        self.model = BlipForConditionalGeneration.from_pretrained(
            spec.local_path, local_files_only=True, dtype=self.dtype
        ).to(self.device)
        self.model.eval()

    def __call__(self, *, image: Image.Image, prompt: str, on_progress: ProgressCallback, cancel: CancelToken) -> str:
        cancel.raise_if_canceled()
        inputs = self.processor(images=image, text=prompt or None, return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        limit = min(MAX_NEW_TOKENS, self.model.generation_config.max_length)
        with self.torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=limit)
        cancel.raise_if_canceled()
        on_progress(1, 1)
        return str(self.processor.decode(output[0], skip_special_tokens=True)).strip()
