"""Bring your own model: from a diffusers folder or a single `.safetensors` checkpoint to the facts a
registry entry needs, each one checked (`propose_model` turns them into a pending entry).

- **Family**, detected: a diffusers folder by its `model_index.json` pipeline class (and, for SDXL,
  its scheduler: Turbo and Lightning ship trailing timesteps), a transformers folder by its
  `config.json` architecture, a single file by the keys diffusers itself reads it by.
- **Loads**: the folder is loaded by the runner's own loader, offline, as a runner would; a
  text-to-image model then makes one small picture, which must not be blank or NaN.
- **Memory**: on CUDA the peak allocated while loading and generating; on a CPU the weights'
  size (all a CPU can say: activations come on top), in MiB, rounded up.

A single file is first converted to a diffusers folder (runners load folders): diffusers'
`from_single_file` with the component configs of a folder of the same architecture, which
must be on disk (nothing is downloaded).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livepeer_ai.pipelines.base import CancelToken, ModelSpec

# The pipelines a model of each family serves.
PIPELINES_OF_FAMILY: dict[str, tuple[str, ...]] = {
    "sd15": ("text-to-image", "image-to-image"),
    "sdxl": ("text-to-image", "image-to-image"),
    "sdxl-turbo": ("text-to-image", "image-to-image"),
    "svd": ("image-to-video",),
    "sd-x4-upscaler": ("upscale",),
    "blip": ("image-to-text",),
    "whisper": ("audio-to-text",),
    "llama": ("llm",),
}
DIFFUSERS_FAMILIES = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionImg2ImgPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableVideoDiffusionPipeline": "svd",
    "StableDiffusionUpscalePipeline": "sd-x4-upscaler",
}
TRANSFORMERS_FAMILIES = {
    "BlipForConditionalGeneration": "blip",
    "WhisperForConditionalGeneration": "whisper",
    "LlamaForCausalLM": "llama",
}
# diffusers' name for a single file's architecture (infer_diffusers_model_type) → our family.
SINGLE_FILE_FAMILIES = {"v1": "sd15", "xl_base": "sdxl"}
# SD 2.x shares SD 1.x's pipeline class; its text encoder is 1024 wide, which SD 1.x's never is.
SD2_CROSS_ATTENTION = 1024
SMOKE_SIDE = 64
MIB = 1024 * 1024


class ModelRefused(ValueError):
    """The path is not a model this network can run, or it did not pass a check; the message says which."""


@dataclass(frozen=True)
class CheckedModel:
    local_path: str  # the diffusers (or transformers) folder runners load
    family: str
    pipelines: tuple[str, ...]
    memory_mb: int
    measured_on: str  # "cuda:0: peak while loading and generating" or "cpu: weights only"
    converted_from: str = ""  # the single file it was made from, if any


def detect_family(folder: Path) -> str:
    """The family of a diffusers or transformers folder, or ModelRefused saying why it has none."""
    index, config = folder / "model_index.json", folder / "config.json"
    if index.exists():
        pipeline_class = read_json(index).get("_class_name", "")
        family = DIFFUSERS_FAMILIES.get(pipeline_class)
        if family is None:
            known = ", ".join(sorted(DIFFUSERS_FAMILIES))
            raise ModelRefused(f"{folder} is a {pipeline_class or 'unnamed'} pipeline; this network runs {known}.")
        if (
            family == "sd15"
            and read_json(folder / "unet" / "config.json").get("cross_attention_dim") == SD2_CROSS_ATTENTION
        ):
            raise ModelRefused(f"{folder} is Stable Diffusion 2.x, which this network does not run.")
        if family == "sdxl" and _scheduler(folder).get("timestep_spacing") == "trailing":
            # SDXL Turbo and Lightning: distilled to few steps with trailing timesteps, no guidance.
            family = "sdxl-turbo"
        return family
    if config.exists():
        architectures = read_json(config).get("architectures") or []
        for architecture in architectures:
            if architecture in TRANSFORMERS_FAMILIES:
                return TRANSFORMERS_FAMILIES[architecture]
        raise ModelRefused(f"{folder} is a transformers {', '.join(architectures) or 'model'}; not a family run here.")
    raise ModelRefused(f"{folder} has neither model_index.json (diffusers) nor config.json (transformers).")


def single_file_family(path: Path) -> str:
    """The family of an original-format checkpoint, as diffusers reads it, or ModelRefused."""
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type, load_single_file_checkpoint

    try:
        checkpoint = load_single_file_checkpoint(str(path), local_files_only=True)
    except Exception as exc:
        raise ModelRefused(f"{path} could not be read as a checkpoint: {exc}") from exc
    kind = infer_diffusers_model_type(checkpoint)
    if kind not in SINGLE_FILE_FAMILIES:
        raise ModelRefused(f"{path} is a {kind} checkpoint; single files of SD 1.x and SDXL are taken.")
    return SINGLE_FILE_FAMILIES[kind]


def convert_single_file(path: Path, config_folder: Path, out: Path, family: str) -> None:
    """Write `path` as a diffusers folder at `out`, its components shaped as in `config_folder`."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if out.exists() and any(out.iterdir()):
        raise ModelRefused(f"{out} already exists and is not empty; choose another --output.")
    if not (config_folder / "model_index.json").exists():
        raise ModelRefused(f"{config_folder} is not a diffusers folder (no model_index.json) to take configs from.")
    loader = StableDiffusionPipeline if family == "sd15" else StableDiffusionXLPipeline
    try:
        pipe = loader.from_single_file(str(path), config=str(config_folder), local_files_only=True)
    except Exception as exc:
        raise ModelRefused(
            f"{path} does not load with the configs of {config_folder} ({type(exc).__name__}: {exc}); "
            "give --config a diffusers folder of the same architecture."
        ) from exc
    pipe.save_pretrained(str(out))


def check_model(folder: Path, family: str, device: str | None = None, converted_from: str = "") -> CheckedModel:
    """Load `folder` as a runner would, generate once where the family makes pictures from text, measure memory."""
    import torch

    from livepeer_ai.pipelines.device import pick_device
    from livepeer_ai.pipelines.loader import load_pipeline

    pipelines = PIPELINES_OF_FAMILY[family]
    device, _dtype = pick_device(device)
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    spec = ModelSpec(pipelines[0], f"check/{folder.name}", family, str(folder))
    try:
        loaded = load_pipeline(spec, device)
        if pipelines[0] == "text-to-image":
            smoke_test(loaded)
    except ModelRefused:
        raise
    except Exception as exc:
        raise ModelRefused(f"{folder} did not load as {family} ({type(exc).__name__}: {exc}).") from exc
    if cuda:
        used, measured_on = torch.cuda.max_memory_allocated(device), f"{device}: peak while loading and generating"
    else:
        used, measured_on = weights_bytes(loaded), f"{device}: weights only"
    return CheckedModel(str(folder), family, pipelines, math.ceil(used / MIB), measured_on, converted_from)


def smoke_test(text_to_image: Any) -> None:
    """One small picture; a model whose weights are broken draws nothing (all one colour) or NaN (black)."""
    import numpy as np

    images = text_to_image(
        prompt="a lighthouse on a cliff",
        negative_prompt="",
        width=SMOKE_SIDE,
        height=SMOKE_SIDE,
        guidance_scale=5.0,
        num_inference_steps=2,
        num_images_per_prompt=1,
        seed=0,
        on_progress=lambda step, total: None,
        cancel=CancelToken(),
    )
    pixels = np.asarray(images[0].image)
    if pixels.size == 0 or pixels.min() == pixels.max():
        raise ModelRefused("The model loaded but drew a blank picture: its weights look broken.")


def weights_bytes(loaded: Any) -> int:
    """The bytes of every parameter and buffer of a loaded pipeline's torch modules."""
    import torch

    holder = getattr(loaded, "pipe", None) or getattr(loaded, "model", None) or loaded
    modules = list(holder.components.values()) if hasattr(holder, "components") else [holder]
    total = 0
    for module in modules:
        if isinstance(module, torch.nn.Module):
            tensors = [*module.parameters(), *module.buffers()]
            total += sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    return total


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelRefused(f"{path} could not be read: {exc}") from exc
    return value if isinstance(value, dict) else {}


def _scheduler(folder: Path) -> dict[str, Any]:
    path = folder / "scheduler" / "scheduler_config.json"
    return read_json(path) if path.exists() else {}


def offline() -> None:
    """Nothing reaches a hub while checking: the weights, and the configs, come from disk."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
