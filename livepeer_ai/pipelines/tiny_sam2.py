"""A tiny random-weight SAM 2 (image and video), built offline from configs like the other tiny models.

One `sam2_video` checkpoint, as SAM 2's are: a small Hiera image encoder, prompt encoder, mask
decoder, and the memory modules that follow an object through a video. The real transformers
code runs; the masks are noise. Its square input is 128 px (a real SAM 2's is 1024): a video's
frames then take a fraction of a second each on a CPU.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SIDE = 128
# SAM 2's memory attention reads 64-channel memories (a width transformers fixes), and splits
# each object pointer into memory-wide pieces: the model's width must be a multiple above it.
HIDDEN = 128
MEMORY_CHANNELS = 64


def build_sam2(out: Path) -> None:
    import torch
    from transformers import Sam2HieraDetConfig, Sam2VideoConfig, Sam2VideoModel, Sam2VisionConfig

    torch.manual_seed(0)
    feature = IMAGE_SIDE // 4  # Hiera's first stage: a 4 px patch stride, then halved per stage
    backbone = Sam2HieraDetConfig(
        hidden_size=12,
        image_size=[IMAGE_SIDE, IMAGE_SIDE],
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[12, 24, 48, 96],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        # Global attention in the third stage, never on a stage's first (pooling) block.
        global_attention_blocks=[3],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[96, 48, 24, 12],
        backbone_feature_sizes=[[feature, feature], [feature // 2, feature // 2], [feature // 4, feature // 4]],
        fpn_hidden_size=HIDDEN,
    )
    config = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": HIDDEN, "image_size": IMAGE_SIDE, "patch_size": 16},
        mask_decoder_config={"hidden_size": HIDDEN, "mlp_dim": 64, "num_attention_heads": 2, "iou_head_hidden_dim": 32},
        image_size=IMAGE_SIDE,
        memory_attention_hidden_size=HIDDEN,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[IMAGE_SIDE // 16, IMAGE_SIDE // 16],
        memory_encoder_hidden_size=HIDDEN,
        memory_encoder_output_channels=MEMORY_CHANNELS,
        mask_downsampler_embed_dim=HIDDEN,
        memory_fuser_embed_dim=HIDDEN,
        memory_fuser_intermediate_dim=64,
    )
    Sam2VideoModel(config).save_pretrained(str(out))
