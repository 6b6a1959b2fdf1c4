"""A diffusers Stable Diffusion 1.x folder saved as one original-format (`.safetensors`) checkpoint, the
way fine-tunes are shared (Civitai, A1111): the inverse of the key mapping diffusers' `from_single_file`
reads, for any number of blocks. Test support: the bring-your-own-model tests propose such a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _rename(key: str, prefix_from: str, prefix_to: str, inner: dict[str, str]) -> str:
    rest = key[len(prefix_from) :]
    for new, old in inner.items():
        if rest.startswith(new + "."):
            rest = old + rest[len(new) :]
            break
    return prefix_to + rest


def unet_key(key: str, layers: int, blocks: int) -> str:
    for new, old in UNET_TOP.items():
        if key.startswith(new + "."):
            return old + key[len(new) :]
    parts = key.split(".")
    if parts[0] == "down_blocks":
        block, kind = int(parts[1]), parts[2]
        if kind == "downsamplers":
            return f"input_blocks.{1 + block * (layers + 1) + layers}.0.op" + key.split(".conv", 1)[1]
        index = 1 + block * (layers + 1) + int(parts[3])
        where = f"down_blocks.{block}.{kind}.{parts[3]}."
        if kind == "resnets":
            return _rename(key, where, f"input_blocks.{index}.0.", UNET_RESNET)
        return _rename(key, where, f"input_blocks.{index}.1.", {})
    if parts[0] == "mid_block":
        if parts[1] == "attentions":
            return _rename(key, "mid_block.attentions.0.", "middle_block.1.", {})
        return _rename(key, f"mid_block.resnets.{parts[2]}.", f"middle_block.{2 * int(parts[2])}.", UNET_RESNET)
    if parts[0] == "up_blocks":
        block, kind = int(parts[1]), parts[2]
        if kind == "upsamplers":
            raise KeyError(key)  # placed by the caller, which knows whether the block has attentions
        index = block * (layers + 1) + int(parts[3])
        where = f"up_blocks.{block}.{kind}.{parts[3]}."
        if kind == "resnets":
            return _rename(key, where, f"output_blocks.{index}.0.", UNET_RESNET)
        return _rename(key, where, f"output_blocks.{index}.1.", {})
    raise KeyError(key)


def vae_key(key: str, blocks: int) -> str:
    parts = key.split(".")
    side = parts[0]
    if parts[1] == "conv_norm_out":
        return f"{side}.norm_out" + key[len(f"{side}.conv_norm_out") :]
    if parts[1] in ("down_blocks", "up_blocks"):
        block = int(parts[2]) if side == "encoder" else blocks - 1 - int(parts[2])
        stage = "down" if side == "encoder" else "up"
        if parts[3] in ("downsamplers", "upsamplers"):
            return f"{side}.{stage}.{block}.{'downsample' if side == 'encoder' else 'upsample'}.conv.{parts[-1]}"
        rest = ".".join(parts[5:]).replace("conv_shortcut", "nin_shortcut")
        return f"{side}.{stage}.{block}.block.{parts[4]}.{rest}"
    if parts[1] == "mid_block":
        if parts[2] == "resnets":
            rest = ".".join(parts[4:]).replace("conv_shortcut", "nin_shortcut")
            return f"{side}.mid.block_{int(parts[3]) + 1}.{rest}"
        return _rename(key, f"{side}.mid_block.attentions.0.", f"{side}.mid.attn_1.", VAE_ATTENTION)
    return key


def save_as_single_file(folder: Path, out: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    unet_config = json.loads((folder / "unet" / "config.json").read_text())
    vae_config = json.loads((folder / "vae" / "config.json").read_text())
    layers, blocks = unet_config["layers_per_block"], len(unet_config["block_out_channels"])
    has_attention = ["CrossAttn" in kind for kind in unet_config["up_block_types"]]
    checkpoint: dict[str, Any] = {}
    for key, tensor in load_file(folder / "unet" / "diffusion_pytorch_model.safetensors").items():
        if ".upsamplers." in key:
            block = int(key.split(".")[1])
            index = block * (layers + 1) + layers
            ldm = f"output_blocks.{index}.{2 if has_attention[block] else 1}.conv.{key.split('.')[-1]}"
        else:
            ldm = unet_key(key, layers, blocks)
        checkpoint["model.diffusion_model." + ldm] = tensor
    vae_blocks = len(vae_config["block_out_channels"])
    for key, tensor in load_file(folder / "vae" / "diffusion_pytorch_model.safetensors").items():
        ldm = vae_key(key, vae_blocks)
        if ".mid.attn_1." in ldm and ldm.endswith(".weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]  # the original VAE's attention is 1x1 convolutions
        checkpoint["first_stage_model." + ldm] = tensor
    for key, tensor in load_file(folder / "text_encoder" / "model.safetensors").items():
        # Original checkpoints keep CLIP's `text_model.` level, which transformers 5 saves without.
        inner = key if key.startswith("text_model.") or key.startswith("text_projection") else "text_model." + key
        checkpoint["cond_stage_model.transformer." + inner] = tensor
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in checkpoint.items()}, str(out))
    del torch
