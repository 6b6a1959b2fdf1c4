"""Deterministic tiny random-weight pipelines, built offline from configs.

They run the real diffusers code at real latent shapes (VAE scale factor 8, like
the full models), quickly and with nothing downloaded. The pictures are noise.
Traps: docs/architecture.md, "Traps in the stack".
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livepeer_ai.pipelines.tiny_vocab import SENTENCES, _bytes_to_unicode, learn_merges

# Beside each built folder (and each LoRA file): what built it. A folder whose stamp differs, or that has
# none (a build that stopped half way, or one from before stamps), is built again from scratch.
STAMP = ".tiny-build"


def build_stamp(builders: Path = Path(__file__).parent) -> str:
    """What the tiny builds depend on: the builders' source (the tiny*.py modules in `builders`) and the
    versions of the libraries that write the weights. Any change rebuilds every tiny model (a dozen
    CPU-seconds)."""
    import diffusers
    import torch
    import transformers

    digest = hashlib.sha256()
    for source in sorted(builders.glob("tiny*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    for version in (diffusers.__version__, transformers.__version__, torch.__version__):
        digest.update(version.encode() + b"\0")
    return digest.hexdigest()[:16]


def built_by(stamp_file: Path, stamp: str) -> bool:
    return stamp_file.is_file() and stamp_file.read_text().strip() == stamp


def rebuild(path: Path, build: Callable[[Path], None], stamp_file: Path, stamp: str) -> None:
    """Build `path` from nothing (no file of an older build stays), then stamp it."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    stamp_file.unlink(missing_ok=True)
    build(path)
    stamp_file.write_text(stamp + "\n")


def build_tokenizer(out_dir: Path, merges_count: int = 64) -> None:
    """A CLIP-style byte-level BPE tokenizer learned from a few sentences."""
    symbols = list(_bytes_to_unicode().values())
    vocab_tokens = symbols + [s + "</w>" for s in symbols]
    words = [list(w[:-1]) + [w[-1] + "</w>"] for s in SENTENCES for w in s.split()]
    merges = learn_merges(words, merges_count)
    vocab_tokens += [a + b for a, b in merges]
    vocab_tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_tokens))}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps(vocab))
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")


def _tokenizer(tok_dir: Path) -> Any:
    from transformers import CLIPTokenizer

    # local_files_only said, not left to HF_HUB_OFFLINE: the tokenizer's saved config records it, and a
    # process that imported huggingface_hub before going offline would write other bytes.
    return CLIPTokenizer.from_pretrained(
        str(tok_dir), model_max_length=77, pad_token="<|endoftext|>", local_files_only=True
    )


def _text_config(tok: Any) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


def _vae(block_out_channels: tuple[int, ...], scaling_factor: float = 0.18215) -> Any:
    from diffusers import AutoencoderKL

    blocks = len(block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=block_out_channels,
        layers_per_block=1,
        norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        scaling_factor=scaling_factor,
    )


def build_sd15(out: Path, tok_dir: Path) -> None:
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    tok = _tokenizer(tok_dir)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
    )
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        vae=_vae((8, 16, 32, 32)),
        text_encoder=CLIPTextModel(_text_config(tok)),
        tokenizer=tok,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(out))


def build_sdxl_turbo(out: Path, tok_dir: Path) -> None:
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tok = _tokenizer(tok_dir)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64,  # 32 + 32 from both text encoders
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=80,  # 6 time ids x 8 + text_encoder_2 projection 32
    )
    # SDXL-Turbo's own scheduler: Euler ancestral with trailing timesteps.
    scheduler = EulerAncestralDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        steps_offset=1,
        timestep_spacing="trailing",
    )
    pipe = StableDiffusionXLPipeline(
        vae=_vae((8, 16, 32, 32), scaling_factor=0.13025),
        text_encoder=CLIPTextModel(_text_config(tok)),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(tok)),
        tokenizer=tok,
        tokenizer_2=tok,
        unet=unet,
        scheduler=scheduler,
        add_watermarker=False,
    )
    pipe.save_pretrained(str(out))


def build_svd(out: Path, num_frames: int = 8) -> None:
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        sample_size=64,
        in_channels=8,
        out_channels=4,
        num_frames=num_frames,
        layers_per_block=1,
        # Attention only at the lowest of three levels: at the top one (a 32×32 latent per frame for a
        # 256 px GIF) its spatial and temporal transformers cost four times the rest of the step on a CPU.
        block_out_channels=(32, 32, 64),
        down_block_types=("DownBlockSpatioTemporal", "DownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal"),
        up_block_types=("CrossAttnUpBlockSpatioTemporal", "UpBlockSpatioTemporal", "UpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=(4, 4, 8),
        addition_time_embed_dim=32,
        projection_class_embeddings_input_dim=96,  # 3 added time ids x 32
    )
    vae = AutoencoderKLTemporalDecoder(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(32, 32, 32, 32),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4,
    )
    # The pipeline always resizes PIL input to 224x224 for the image encoder, so
    # the encoder must be built for 224 even when tiny (docs/architecture.md, "Traps in the stack").
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            image_size=224,
            patch_size=32,
        )
    )
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type="v_prediction",
        interpolation_type="linear",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    pipe = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )
    pipe.save_pretrained(str(out))


def build_x4_upscaler(out: Path, tok_dir: Path) -> None:
    import torch
    from diffusers import DDIMScheduler, DDPMScheduler, StableDiffusionUpscalePipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    tok = _tokenizer(tok_dir)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=7,  # 4 latent + 3 RGB of the low-resolution image
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        num_class_embeds=1000,  # the noise_level label
    )
    pipe = StableDiffusionUpscalePipeline(
        # Three blocks give the x4 factor; 0.08333 is the real upscaler's scaling.
        vae=_vae((16, 32, 32), scaling_factor=0.08333),
        text_encoder=CLIPTextModel(_text_config(tok)),
        tokenizer=tok,
        unet=unet,
        low_res_scheduler=DDPMScheduler(beta_schedule="scaled_linear"),
        scheduler=DDIMScheduler(prediction_type="v_prediction", beta_schedule="scaled_linear", steps_offset=1),
        max_noise_level=350,
    )
    pipe.save_pretrained(str(out))


def tiny_catalog(models_dir: Path) -> list[dict[str, Any]]:
    """Registry entries for every tiny build (and the weight-free interpolator)."""
    sdxl = str(models_dir / "tiny-sdxl-turbo")
    sd15 = str(models_dir / "tiny-sd15")
    return [
        {
            "pipeline": "text-to-image",
            "model_id": "livepeer-ai/tiny-sdxl-turbo",
            "family": "sdxl-turbo",
            "local_path": sdxl,
            "build": "sdxl-turbo",
        },
        {
            "pipeline": "text-to-image",
            "model_id": "livepeer-ai/tiny-sd15",
            "family": "sd15",
            "local_path": sd15,
            "build": "sd15",
        },
        {
            "pipeline": "image-to-image",
            "model_id": "livepeer-ai/tiny-sdxl-turbo",
            "family": "sdxl-turbo",
            "local_path": sdxl,
            "build": "sdxl-turbo",
        },
        {
            "pipeline": "image-to-image",
            "model_id": "livepeer-ai/tiny-sd15",
            "family": "sd15",
            "local_path": sd15,
            "build": "sd15",
        },
        {
            "pipeline": "image-to-video",
            "model_id": "livepeer-ai/tiny-svd-xt",
            "family": "svd",
            "local_path": str(models_dir / "tiny-svd-xt"),
            "build": "svd",
        },
        {
            "pipeline": "upscale",
            "model_id": "livepeer-ai/tiny-sd-x4-upscaler",
            "family": "sd-x4-upscaler",
            "local_path": str(models_dir / "tiny-sd-x4-upscaler"),
            "build": "x4-upscaler",
            # Output is 4x the input side; keep inputs where a CPU finishes in seconds.
            "max_side": 512,
        },
        {
            "pipeline": "image-to-text",
            "model_id": "livepeer-ai/tiny-blip-captioning",
            "family": "blip",
            "local_path": str(models_dir / "tiny-blip-captioning"),
            "build": "blip",
        },
        {
            "pipeline": "audio-to-text",
            "model_id": "livepeer-ai/tiny-whisper",
            "family": "whisper",
            "local_path": str(models_dir / "tiny-whisper"),
            "build": "whisper",
        },
        {
            "pipeline": "llm",
            "model_id": "livepeer-ai/tiny-llama-instruct",
            "family": "llama",
            "local_path": str(models_dir / "tiny-llama-instruct"),
            "build": "llama",
        },
        {
            "pipeline": "text-to-speech",
            "model_id": "livepeer-ai/tiny-vits",
            "family": "vits",
            "local_path": str(models_dir / "tiny-vits"),
            "build": "vits",
        },
        {
            "pipeline": "segment-anything-2",
            "model_id": "livepeer-ai/tiny-sam2-hiera",
            "family": "sam2",
            "local_path": str(models_dir / "tiny-sam2-hiera"),
            "build": "sam2",
            # Masks come back at the input's size, three per image as text: keep them CPU-sized.
            "max_side": 512,
        },
        {
            "pipeline": "frame-interpolation",
            "model_id": "opencv/dis-flow",
            "family": "optical-flow",
            "local_path": "",
            "build": "",
        },
    ]


def build_all(models_dir: Path, force: bool = False) -> list[dict[str, Any]]:
    """Build every tiny model that is missing or was built by other code (all with force); return the catalog."""
    from livepeer_ai.pipelines.tiny_sam2 import build_sam2
    from livepeer_ai.pipelines.tiny_speech import build_vits
    from livepeer_ai.pipelines.tiny_text import build_blip, build_llama, build_whisper

    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = build_stamp()
    tok_dir = models_dir / "tiny-clip-tokenizer"
    if force or not built_by(tok_dir / STAMP, stamp):
        rebuild(tok_dir, build_tokenizer, tok_dir / STAMP, stamp)
    builders: dict[str, Callable[[Path], None]] = {
        "sd15": lambda p: build_sd15(p, tok_dir),
        "sdxl-turbo": lambda p: build_sdxl_turbo(p, tok_dir),
        "svd": build_svd,
        "x4-upscaler": lambda p: build_x4_upscaler(p, tok_dir),
        "blip": build_blip,
        "whisper": build_whisper,
        "llama": build_llama,
        "vits": build_vits,
        "sam2": build_sam2,
    }
    catalog = tiny_catalog(models_dir)
    built: set[str] = set()
    for entry in catalog:
        build = entry.pop("build")
        if not build or build in built:
            continue
        built.add(build)
        path = Path(entry["local_path"])
        if force or not built_by(path / STAMP, stamp):
            rebuild(path, builders[build], path / STAMP, stamp)
    return catalog
