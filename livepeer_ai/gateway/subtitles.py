"""audio-to-text's answer as a subtitle file (SubRip or WebVTT): `?format=srt|vtt` on the API.

Each chunk `{"timestamp": [start, end], "text"}` becomes one cue. Whisper may leave
the last chunk's end open (null): that cue ends where it starts plus MIN_CUE_S, or
at the next chunk's start, whichever the data gives.
"""

from __future__ import annotations

from typing import Any

FORMATS = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}
MIN_CUE_S = 1.0


class NoTimestamps(ValueError):
    """The answer has text but no timed chunks (asked with return_timestamps=false)."""


def clock(seconds: float, separator: str) -> str:
    """HH:MM:SS,mmm (SubRip) or HH:MM:SS.mmm (WebVTT), rounded to the millisecond."""
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def cues(output: dict[str, Any]) -> list[tuple[float, float, str]]:
    chunks = [c for c in output.get("chunks") or [] if str(c.get("text", "")).strip()]
    if not chunks and str(output.get("text", "")).strip():
        raise NoTimestamps("This answer has no timestamps: ask with return_timestamps true or word for subtitles.")
    timed = []
    for index, chunk in enumerate(chunks):
        start, end = (list(chunk.get("timestamp") or []) + [None, None])[:2]
        start = float(start or 0.0)
        if end is None:
            following = chunks[index + 1]["timestamp"][0] if index + 1 < len(chunks) else None
            end = float(following) if following is not None else start + MIN_CUE_S
        timed.append((start, max(float(end), start), " ".join(str(chunk["text"]).split())))
    return timed


def subtitles(output: dict[str, Any], fmt: str) -> str:
    """The file's text in `fmt` ("srt" or "vtt")."""
    if fmt == "srt":
        blocks = [
            f"{number}\n{clock(start, ',')} --> {clock(end, ',')}\n{text}\n"
            for number, (start, end, text) in enumerate(cues(output), start=1)
        ]
        return "\n".join(blocks)
    blocks = [f"{clock(start, '.')} --> {clock(end, '.')}\n{text}\n" for start, end, text in cues(output)]
    return "WEBVTT\n\n" + "\n".join(blocks)
