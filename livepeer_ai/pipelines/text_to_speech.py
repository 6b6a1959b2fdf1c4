"""Speech from text with a VITS model through transformers (Meta's MMS-TTS checkpoints and kin).

VITS reads characters (its tokenizer lowercases the text and drops any character its
vocabulary lacks), predicts how long each is said, and writes the waveform in one pass:
one progress step. Its durations and voice are drawn with noise from torch's global
generator, so a job seeds it and holds it from seeding to the end: one seed, one waveform.

A VITS checkpoint has one voice. Livepeer's `description` (Parler-TTS's prompt describing
the speaker) is a runner API field this family has nothing to read it with: the runner
checks it and leaves it unread (docs/api.md says so).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from livepeer_ai.pipelines.base import CancelToken, InvalidParameters, ModelSpec, ProgressCallback
from livepeer_ai.pipelines.device import pick_device


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # float32 in [-1, 1], mono
    sample_rate: int


class TextToSpeech:
    pipeline = "text-to-speech"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from transformers import AutoTokenizer, VitsModel

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(spec.local_path, local_files_only=True)
        self.model = VitsModel.from_pretrained(spec.local_path, local_files_only=True, dtype=self.dtype).to(self.device)
        self.model.eval()
        self.sample_rate = int(self.model.config.sampling_rate)
        # The forward pass draws from the global RNG: one job at a time holds it from seeding to the end.
        self._seeded = threading.Lock()

    def __call__(self, *, text: str, seed: int, on_progress: ProgressCallback, cancel: CancelToken) -> Speech:
        cancel.raise_if_canceled()
        inputs = self.tokenizer(text, return_tensors="pt")
        if inputs["input_ids"].shape[1] == 0:
            # Every character was outside the vocabulary (another script, only symbols): nothing to say.
            raise InvalidParameters(
                "text has nothing this model can say: none of its characters are in its vocabulary."
            )
        inputs = inputs.to(self.device)
        with self._seeded, self.torch.inference_mode():
            self.torch.manual_seed(seed)
            waveform = self.model(**inputs).waveform[0]
        cancel.raise_if_canceled()
        on_progress(1, 1)
        return Speech(waveform.float().cpu().numpy(), self.sample_rate)
