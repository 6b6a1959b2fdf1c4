"""Tiny random-weight models that write text: a BLIP captioner, a Whisper transcriber, a Llama chat model.

Built offline from configs with tokenizers learned here from a few sentences, like
the diffusers ones in tiny.py: the real transformers code runs at real input shapes
(Whisper's 80 mel bins over 30 s, BLIP's image patches); the text is gibberish.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from livepeer_ai.pipelines.tiny_vocab import SENTENCES, _bytes_to_unicode, learn_merges

# Whisper's special tokens in its order; timestamps follow <|notimestamps|>, which the
# tokenizer and the generation code both count on.
WHISPER_SPECIALS = [
    "<|startoftranscript|>",
    "<|en|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",
]
# <|0.00|> … <|30.00|> in 20 ms steps.
WHISPER_TIMESTAMPS = 1501


def learn_byte_merges(count: int = 64) -> list[tuple[str, str]]:
    """GPT-2-style byte-level BPE merges (a space starts a word) learned from SENTENCES."""
    table = _bytes_to_unicode()
    words = [[table[b] for b in (" " + w).encode()] for s in SENTENCES for w in s.split()]
    return learn_merges(words, count)


def whisper_tokenizer() -> Any:
    from transformers import AddedToken, WhisperTokenizer

    merges = learn_byte_merges()
    symbols = list(_bytes_to_unicode().values()) + [a + b for a, b in merges]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(symbols))}
    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in WHISPER_SPECIALS]}
    )
    # Timestamps are added tokens but not special ones (as in Whisper's own tokenizer):
    # decoding with offsets must see them.
    tokenizer.add_tokens(
        [AddedToken(f"<|{i * 0.02:.2f}|>", normalized=False, special=False) for i in range(WHISPER_TIMESTAMPS)]
    )
    return tokenizer


def build_whisper(out: Path) -> None:
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    torch.manual_seed(0)
    tokenizer = whisper_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in ["<|endoftext|>", *WHISPER_SPECIALS]}
    end = ids["<|endoftext|>"]
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,  # 30 s of 10 ms mel frames, halved by the conv stem
        max_target_positions=64,
        pad_token_id=end,
        bos_token_id=end,
        eos_token_id=end,
        decoder_start_token_id=ids["<|startoftranscript|>"],
        begin_suppress_tokens=[end],
        suppress_tokens=[],
    )
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"],
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=end,
        no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
        is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        # Cross-attention heads whose alignment gives word timestamps.
        alignment_heads=[[0, 0], [1, 1]],
        max_initial_timestamp_index=50,
        begin_suppress_tokens=[end],
        suppress_tokens=[],
        # Random weights rarely stop by themselves: a short limit keeps a window fast.
        max_length=16,
    )
    model.save_pretrained(str(out))
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(
        str(out)
    )


def blip_tokenizer() -> Any:
    """A WordPiece vocabulary of the sentences' words and letters, plus BLIP's [DEC] start token."""
    from transformers import BertTokenizer

    words = sorted({w for s in SENTENCES for w in s.split()})
    letters = sorted({c for s in SENTENCES for c in s.replace(" ", "")})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *letters, *[f"##{c}" for c in letters]]
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(dict.fromkeys(tokens))}, model_max_length=512)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    return tokenizer


def build_blip(out: Path) -> None:
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessorPil, BlipProcessor

    torch.manual_seed(0)
    tokenizer = blip_tokenizer()
    config = BlipConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "encoder_hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "sep_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 64,
            "patch_size": 16,
        },
        projection_dim=32,
    )
    model = BlipForConditionalGeneration(config)
    # A caption of at least a few tokens (random weights may end at once), at most 16.
    model.generation_config.min_length = 4
    model.generation_config.max_length = 16
    model.save_pretrained(str(out))
    # The PIL image processor: no torchvision on the runners.
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 64, "width": 64}), tokenizer=tokenizer
    )
    processor.save_pretrained(str(out))


# Llama 3's chat markers; the template below lays messages out as Llama 3.1 Instruct's does
# (a header per message, <|eot_id|> after each), without its tool-calling parts.
LLAMA_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
LLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def llama_tokenizer() -> Any:
    """A byte-level BPE (Whisper's learned merges) with Llama 3's chat markers and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    merges = learn_byte_merges()
    symbols = list(_bytes_to_unicode().values()) + [a + b for a, b in merges]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(symbols))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|end_of_text|>",
        additional_special_tokens=["<|start_header_id|>", "<|end_header_id|>"],
        chat_template=LLAMA_CHAT_TEMPLATE,
    )


def build_llama(out: Path) -> None:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = llama_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,  # grouped-query attention, as Llama 3's
        # Rotary positions: no weights grow with the context, so it can be as long as a real one's.
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    # Random weights pick any byte; only printable ASCII ones are allowed, so the demo's
    # gibberish is readable words and letters rather than control codes and broken UTF-8.
    special = set(tokenizer.all_special_ids)
    unreadable = [
        index
        for token, index in tokenizer.get_vocab().items()
        if index not in special and not _readable(tokenizer.convert_tokens_to_string([token]))
    ]
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        suppress_tokens=sorted(unreadable),
    )
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def _readable(text: str) -> bool:
    return text.isascii() and text.isprintable()
