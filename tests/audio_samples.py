"""Test audio made at test time with the ffmpeg binary imageio-ffmpeg ships (no binary fixtures)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from livepeer_ai.pipelines.audio import ffmpeg_exe

# Container/codec arguments for each format a user might upload.
FORMATS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "ogg": ["-c:a", "libvorbis", "-f", "ogg"],
    "mp4": ["-c:a", "aac", "-f", "mp4"],
    "webm": ["-c:a", "libopus", "-f", "webm"],
    "mov": ["-c:a", "aac", "-f", "mov"],
}
VIDEO_FORMATS = {"mp4", "webm", "mov"}


def encode_audio(seconds: float, fmt: str = "wav", silent: bool = False, rate: int = 16_000) -> bytes:
    """A 440 Hz tone (or silence) of `seconds`, in `fmt`; the video formats carry a tiny picture track too."""
    source = f"anullsrc=r={rate}:cl=mono" if silent else f"sine=frequency=440:sample_rate={rate}"
    inputs = ["-f", "lavfi", "-t", str(seconds), "-i", source]
    if fmt in VIDEO_FORMATS:
        inputs += ["-f", "lavfi", "-t", str(seconds), "-i", "color=c=blue:s=32x32:r=4"]
        codec = ["-c:v", "libvpx-vp9" if fmt == "webm" else "libx264", "-pix_fmt", "yuv420p"]
    else:
        codec = []
    return _ffmpeg([*inputs, *codec, *FORMATS[fmt]])


def encode_silent_video(seconds: float = 1.0) -> bytes:
    """An MP4 with a picture and no audio track."""
    inputs = ["-f", "lavfi", "-t", str(seconds), "-i", "color=c=red:s=32x32:r=4"]
    return _ffmpeg([*inputs, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4"])


def _ffmpeg(arguments: list[str]) -> bytes:
    # MP4 and MOV need a seekable output to write their index.
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        command = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments, str(out)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        return out.read_bytes()
