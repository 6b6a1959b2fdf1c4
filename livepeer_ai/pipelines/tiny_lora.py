"""Tiny random-weight LoRAs for the tiny image models, built offline and deterministically.

Each is a real PEFT LoRA on the UNet's attention projections, saved in diffusers'
LoRA format (the format `load_lora_weights` reads, as a trained LoRA would be),
with nonzero weights so that applying it visibly changes the picture.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

# The UNet layers the LoRAs adapt: every attention projection, as most published LoRAs do.
TARGET_MODULES = ["to_q", "to_k", "to_v", "to_out.0"]


def build_lora(model_dir: Path, out: Path, base: str, seed: int, rank: int = 4) -> None:
    """Write a LoRA for the UNet of the diffusers folder `model_dir` to the file `out`."""
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(str(model_dir / "unet"), local_files_only=True)
    torch.manual_seed(seed)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=TARGET_MODULES))
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            # PEFT starts B at zero (an adapter that changes nothing until trained): stand in for training.
            if "lora_B" in name:
                parameter.copy_(torch.randn_like(parameter) * 0.5)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    saver = StableDiffusionXLPipeline if base == "sdxl" else StableDiffusionPipeline
    out.parent.mkdir(parents=True, exist_ok=True)
    saver.save_lora_weights(str(out.parent), unet_lora_layers=layers, weight_name=out.name, safe_serialization=True)


def tiny_lora_catalog(models_dir: Path) -> list[dict[str, Any]]:
    """Registry entries of the tiny LoRAs: one per image family, on the tiny model it was made from."""
    folder = models_dir / "tiny-loras"
    return [
        {
            "name": "livepeer-ai/tiny-sd15-lora",
            "base": "sd15",
            "local_path": str(folder / "tiny-sd15-lora.safetensors"),
            "description": "Tiny random-weight LoRA for the tiny SD 1.x model (a demo style: noise).",
            "model_dir": models_dir / "tiny-sd15",
            "seed": 1,
        },
        {
            "name": "livepeer-ai/tiny-sdxl-lora",
            "base": "sdxl",
            "local_path": str(folder / "tiny-sdxl-lora.safetensors"),
            "description": "Tiny random-weight LoRA for the tiny SDXL models (a demo style: noise).",
            "model_dir": models_dir / "tiny-sdxl-turbo",
            "seed": 2,
        },
    ]


def build_tiny_loras(models_dir: Path, force: bool = False) -> list[dict[str, Any]]:
    """Build every tiny LoRA that is missing or older than its model (all with force); the models must be
    built first. A LoRA's stamp is its model's, written after it: a model built again gets its LoRA made again."""
    from livepeer_ai.pipelines.tiny import STAMP, built_by, rebuild

    catalog = tiny_lora_catalog(models_dir)
    for lora in catalog:
        model_dir, seed = lora.pop("model_dir"), lora.pop("seed")
        path = Path(lora["local_path"])
        stamp_file = path.with_name(path.name + STAMP)
        model_stamp_file = model_dir / STAMP
        model_stamp = model_stamp_file.read_text().strip()
        current = (
            built_by(stamp_file, model_stamp) and stamp_file.stat().st_mtime_ns >= model_stamp_file.stat().st_mtime_ns
        )
        if force or not current:
            rebuild(path, partial(build_lora, model_dir, base=lora["base"], seed=seed), stamp_file, model_stamp)
    return catalog
