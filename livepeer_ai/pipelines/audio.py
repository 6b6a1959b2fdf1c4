"""Audio in and out: uploads decoded with the ffmpeg binary imageio-ffmpeg ships (WAV, MP3,
FLAC, OGG, and the audio track of MP4, WebM and MOV) to 16 kHz mono float samples, and
speech written back as WAV.

No torch here: the orchestrator node measures an upload's duration (its units) with it.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import wave
from dataclasses import dataclass

import numpy as np

from livepeer_ai.pipelines.media import MediaTooLarge, UnsupportedMedia

# Whisper's feature extractor takes 16 kHz mono; decoding straight to it resamples once.
SAMPLE_RATE = 16_000
# Longer uploads are refused (413) rather than transcribed: ten minutes is already
# twenty 30 s windows, minutes of work on a GPU.
MAX_AUDIO_SECONDS = 600
# ffmpeg decodes minutes of audio in well under a second; this only stops a hang.
DECODE_TIMEOUT_S = 120
SUPPORTED = "WAV, MP3, FLAC, OGG, or the audio track of MP4, WebM or MOV"


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 in [-1, 1], mono, SAMPLE_RATE per second

    @property
    def duration_ms(self) -> int:
        # Integer milliseconds, rounded up: a started millisecond is billed.
        return -(-len(self.samples) * 1000 // SAMPLE_RATE)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def decode_audio(raw: bytes, max_seconds: float = MAX_AUDIO_SECONDS) -> DecodedAudio:
    """The upload's first audio stream as 16 kHz mono samples.

    ffmpeg is told to stop a little past `max_seconds`, so a long upload costs no more
    to refuse than the limit costs to accept: it is never decoded to its end.
    """
    if not raw:
        raise UnsupportedMedia(f"The audio file is empty; send {SUPPORTED}.")
    limit_samples = int(max_seconds * SAMPLE_RATE)
    # A file, not a pipe: MP4 and MOV keep their index at the end, which needs seeking.
    with tempfile.NamedTemporaryFile(suffix=".media") as handle:
        handle.write(raw)
        handle.flush()
        command = [
            ffmpeg_exe(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            handle.name,
            "-map",
            "0:a:0",
            "-vn",
            "-t",
            f"{max_seconds + 1:.3f}",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-f",
            "f32le",
            "pipe:1",
        ]
        try:
            result = subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise UnsupportedMedia(f"The audio could not be decoded within {DECODE_TIMEOUT_S} s.") from None
    if result.returncode != 0:
        raise UnsupportedMedia(f"Uploaded file is not supported audio ({SUPPORTED}): {_reason(result.stderr)}")
    samples = np.frombuffer(result.stdout, dtype="<f4")
    if len(samples) == 0:
        raise UnsupportedMedia(f"The uploaded file has no audio samples; send {SUPPORTED}.")
    if len(samples) > limit_samples:
        raise MediaTooLarge(f"Audio is longer than the {max_seconds:g} s accepted.")
    return DecodedAudio(samples.astype(np.float32, copy=True))


def _reason(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    if any("matches no streams" in line for line in lines):
        return "it has no audio track."
    # ffmpeg's first line names the temporary file; the last says what went wrong.
    return lines[-1].split(": ", 1)[-1] if lines else "ffmpeg could not read it."


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples in [-1, 1] as a 16-bit PCM WAV file, the format every player reads.

    Out-of-range samples are clipped and NaN is silence: the same samples always give the same bytes.
    """
    clipped = np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float32).reshape(-1)), -1.0, 1.0)
    pcm = np.round(clipped * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()
