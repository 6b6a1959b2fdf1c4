"""Speech leaves the runner as a 16-bit mono WAV: samples clipped to [-1, 1], NaN as silence, the same bytes each time."""

from __future__ import annotations

import io
import warnings
import wave

import numpy as np

from livepeer_ai.pipelines.audio import encode_wav


def test_samples_become_16_bit_pcm_clipped_with_nan_as_silence():
    with warnings.catch_warnings():
        # NaN is made silence before the cast, never left to the cast (undefined in C: numpy warns).
        warnings.simplefilter("error")
        raw = encode_wav(np.array([0.5, -2.0, np.nan, 1.0, 3.0], dtype=np.float32), 22_050)
    with wave.open(io.BytesIO(raw)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (1, 2, 22_050, 5)
        pcm = np.frombuffer(wav.readframes(5), dtype="<i2")
    assert pcm.tolist() == [16384, -32767, 0, 32767, 32767]


def test_the_same_samples_give_the_same_bytes():
    samples = np.sin(np.linspace(0, 40, 1600, dtype=np.float32))
    assert encode_wav(samples, 16_000) == encode_wav(samples.copy(), 16_000)
    assert encode_wav(samples, 16_000) != encode_wav(samples, 8_000)
