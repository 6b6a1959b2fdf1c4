"""Speech to text with a Whisper model through transformers' ASR pipeline.

Audio is transcribed in 30 s windows, Whisper's own input length, one progress step
a window; each window's timestamps are moved to where it sits in the whole file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livepeer_ai.pipelines.audio import SAMPLE_RATE, DecodedAudio
from livepeer_ai.pipelines.base import CancelToken, ModelSpec, ProgressCallback
from livepeer_ai.pipelines.device import pick_device

WINDOW_SECONDS = 30
# The runner API's values: "true" and "sentence" give segment timestamps, "word" word ones.
TIMESTAMP_MODES: dict[str, bool | str] = {"true": True, "sentence": True, "word": "word", "false": False}


def windows(samples: np.ndarray, seconds: int = WINDOW_SECONDS) -> list[tuple[float, np.ndarray]]:
    """(start in seconds, samples) of each window; the last may be shorter."""
    size = seconds * SAMPLE_RATE
    return [(start / SAMPLE_RATE, samples[start : start + size]) for start in range(0, len(samples), size)]


def shifted_chunks(chunks: list[dict[str, Any]], offset: float, duration: float) -> list[dict[str, Any]]:
    """A window's chunks placed at `offset` in the file, never past the window's own end.

    Whisper can predict a timestamp beyond the audio it was given (an end missing at a
    window's edge comes back as None); both are held to the window.
    """
    placed = []
    for chunk in chunks:
        start, end = chunk.get("timestamp") or (None, None)
        start = min(max(start or 0.0, 0.0), duration)
        end = duration if end is None else min(max(end, start), duration)
        placed.append({"timestamp": [round(offset + start, 2), round(offset + end, 2)], "text": chunk["text"]})
    return placed


class AudioToText:
    pipeline = "audio-to-text"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor, pipeline

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        model = AutoModelForSpeechSeq2Seq.from_pretrained(spec.local_path, local_files_only=True, dtype=self.dtype)
        processor = AutoProcessor.from_pretrained(spec.local_path, local_files_only=True)
        self.asr = pipeline(
            "automatic-speech-recognition",
            model=model,
            tokenizer=processor.tokenizer,
            feature_extractor=processor.feature_extractor,
            dtype=self.dtype,
            device=self.device,
        )
        # The model's own decoding (greedy for Whisper's checkpoints), as Livepeer's runner
        # gets it, not the five-beam search transformers' pipeline would add by default.
        self.generate_kwargs = {"num_beams": model.generation_config.num_beams, "task": "transcribe"}

    def __call__(
        self, *, audio: DecodedAudio, return_timestamps: str, on_progress: ProgressCallback, cancel: CancelToken
    ) -> dict[str, Any]:
        mode = TIMESTAMP_MODES[return_timestamps]
        parts = windows(audio.samples)
        texts: list[str] = []
        chunks: list[dict[str, Any]] = []
        for index, (offset, samples) in enumerate(parts, start=1):
            cancel.raise_if_canceled()
            with self.torch.inference_mode():
                output = self.asr(
                    {"raw": samples, "sampling_rate": SAMPLE_RATE},
                    return_timestamps=mode,
                    generate_kwargs=dict(self.generate_kwargs),
                )
            texts.append(output["text"].strip())
            if mode:
                chunks += shifted_chunks(output.get("chunks") or [], offset, len(samples) / SAMPLE_RATE)
            on_progress(index, len(parts))
        return {"text": " ".join(t for t in texts if t), "chunks": chunks}
