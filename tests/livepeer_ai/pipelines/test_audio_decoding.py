"""Uploaded audio decoded with ffmpeg: the formats people have, and clear refusals for the rest."""

from __future__ import annotations

import numpy as np
import pytest

from livepeer_ai.pipelines.audio import SAMPLE_RATE, decode_audio
from livepeer_ai.pipelines.audio_to_text import shifted_chunks, windows
from livepeer_ai.pipelines.media import MediaTooLarge, UnsupportedMedia
from tests.audio_samples import FORMATS, encode_audio, encode_silent_video
from tests.livepeer_ai.runner.test_pipelines_http import png


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_decodes_every_upload_format_to_16khz_mono(fmt):
    audio = decode_audio(encode_audio(2.0, fmt))
    # Codecs pad a few milliseconds (MP3 and AAC frames); the length is the tone's, not a default.
    assert 1990 <= audio.duration_ms <= 2100
    assert audio.samples.dtype == np.float32
    # The tone is there, not silence: a 440 Hz sine of amplitude 1/8 (lavfi's default).
    assert 0.05 < float(np.abs(audio.samples[SAMPLE_RATE // 2 : SAMPLE_RATE]).max()) <= 1.0


def test_duration_is_integer_milliseconds_rounded_up():
    audio = decode_audio(encode_audio(1.0, "wav", rate=SAMPLE_RATE))
    assert audio.duration_ms == 1000
    assert isinstance(audio.duration_ms, int)


def test_refuses_audio_longer_than_the_limit_without_decoding_it_all():
    raw = encode_audio(4.0, "flac", silent=True)
    with pytest.raises(MediaTooLarge, match="longer than the 2 s"):
        decode_audio(raw, max_seconds=2)
    assert decode_audio(raw, max_seconds=4).duration_ms == 4000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (png(), "not supported audio"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk" * 3, "not supported audio"),
    ],
    ids=["empty", "an image", "a broken wav"],
)
def test_refuses_what_is_not_audio(raw, message):
    with pytest.raises(UnsupportedMedia, match=message):
        decode_audio(raw)


def test_refuses_a_video_without_an_audio_track():
    with pytest.raises(UnsupportedMedia, match="no audio track"):
        decode_audio(encode_silent_video())


def test_windows_are_30_seconds_with_a_shorter_last():
    samples = np.zeros(65 * SAMPLE_RATE, dtype=np.float32)
    parts = windows(samples)
    assert [start for start, _ in parts] == [0.0, 30.0, 60.0]
    assert [len(part) / SAMPLE_RATE for _, part in parts] == [30.0, 30.0, 5.0]


def test_chunks_move_to_their_window_and_stay_inside_it():
    chunks = [
        {"timestamp": (0.5, 2.0), "text": " a"},
        {"timestamp": (3.0, 41.5), "text": " b"},  # past the 5 s window: held to its end
        {"timestamp": (4.0, None), "text": " c"},  # no end at the window's edge
    ]
    assert shifted_chunks(chunks, 60.0, 5.0) == [
        {"timestamp": [60.5, 62.0], "text": " a"},
        {"timestamp": [63.0, 65.0], "text": " b"},
        {"timestamp": [64.0, 65.0], "text": " c"},
    ]
