"""A tiny random-weight speech synthesizer: VITS with a character vocabulary, as MMS-TTS English's.

Built offline from a config like the other tiny models: the real transformers VITS code
runs (text encoder, stochastic duration predictor, flow, HiFi-GAN decoder at 16 kHz) on
real characters; what it says is noise shaped like speech's timing.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

# MMS-TTS English reads lowercase letters, the space and a little punctuation; digits too here.
VOCABULARY = " abcdefghijklmnopqrstuvwxyz0123456789'.,!?-"
SAMPLE_RATE = 16_000


def build_vits(out: Path) -> None:
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    torch.manual_seed(0)
    vocab = {"<pad>": 0, "<unk>": 1, **{char: index for index, char in enumerate(VOCABULARY, start=2)}}
    with tempfile.TemporaryDirectory() as scratch:
        vocab_file = Path(scratch) / "vocab.json"
        vocab_file.write_text(json.dumps(vocab))
        # MMS-TTS's settings: characters, not phonemes; a blank between each (add_blank).
        tokenizer = VitsTokenizer(vocab_file=str(vocab_file), phonemize=False, normalize=True, add_blank=True)
    config = VitsConfig(
        vocab_size=len(vocab),
        pad_token_id=0,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=33,
        # HiFi-GAN's upsampling: 8 × 8 × 2 × 2 = 256 samples per frame, as the real model's.
        upsample_initial_channel=32,
        upsample_rates=[8, 8, 2, 2],
        upsample_kernel_sizes=[16, 16, 4, 4],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3, 5]],
        duration_predictor_filter_channels=16,
        duration_predictor_num_flows=2,
        depth_separable_num_layers=2,
        prior_encoder_num_flows=2,
        prior_encoder_num_wavenet_layers=2,
        posterior_encoder_num_wavenet_layers=2,
        sampling_rate=SAMPLE_RATE,
    )
    VitsModel(config).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
