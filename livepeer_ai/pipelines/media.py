"""Decoding uploads and encoding outputs: PNG data URLs, GIF, MP4.

No torch here: the worker uses it too.
"""

from __future__ import annotations

import base64
import io
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

# Uploads larger than this many pixels are refused before they are decoded
# (a 64 MP image is already far beyond anything the runners take as input).
MAX_INPUT_PIXELS = 64 * 1024 * 1024


class UnsupportedMedia(ValueError):
    """The upload is not a media type we can decode (HTTP 415)."""


class MediaTooLarge(ValueError):
    """The upload decodes to more pixels than allowed (HTTP 413)."""


def decode_image(raw: bytes, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Open an uploaded image safely: refuse non-images and decompression bombs."""
    try:
        with warnings.catch_warnings():
            # PIL only warns between 1x and 2x MAX_IMAGE_PIXELS; treat that as a bomb too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if width * height > max_pixels:
                raise MediaTooLarge(f"Image is {width}x{height}; at most {max_pixels} pixels are accepted.")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(f"Image is too large to decode safely: {exc}") from None
    except MediaTooLarge:
        raise
    except Exception:
        raise UnsupportedMedia("Uploaded file is not a supported image (PNG, JPEG, WebP, GIF).") from None
    return image.convert("RGB")


def decode_video_frames(raw: bytes, max_pixels: int = MAX_INPUT_PIXELS, max_frames: int = 500) -> list[Image.Image]:
    """Frames of an animated GIF/WebP/PNG or an MP4/WebM upload."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(f"Video is too large to decode safely: {exc}") from None
    except Exception:
        # Not a picture format Pillow knows: let ffmpeg try it as a video.
        return _ffmpeg_frames(raw, max_pixels, max_frames)
    if getattr(image, "n_frames", 1) < 2:
        raise UnsupportedMedia("A video needs at least two frames; this is a still image.")
    return _pil_frames(image, max_pixels, max_frames)


def measure_upload(raw: bytes, is_video: bool) -> tuple[tuple[int, int], int]:
    """((width, height), frame count) of an upload, decoded safely; a still image counts 0 frames."""
    if is_video:
        frames = decode_video_frames(raw)
        return frames[0].size, len(frames)
    return decode_image(raw).size, 0


def _pil_frames(image: Image.Image, max_pixels: int, max_frames: int) -> list[Image.Image]:
    width, height = image.size
    if width * height > max_pixels:
        raise MediaTooLarge(f"Video is {width}x{height}; at most {max_pixels} pixels a frame are accepted.")
    if image.n_frames > max_frames:
        raise MediaTooLarge(f"Video has {image.n_frames} frames; at most {max_frames} are accepted.")
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(image.convert("RGB"))
    return frames


def _ffmpeg_frames(raw: bytes, max_pixels: int, max_frames: int) -> list[Image.Image]:
    import imageio.v3 as iio

    # imageio picks its plugin by file extension; ffmpeg itself probes the content.
    suffix = ".webm" if raw[:4] == b"\x1a\x45\xdf\xa3" else ".mp4"
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(raw)
        handle.flush()
        try:
            frames = []
            for index, array in enumerate(iio.imiter(handle.name, plugin="FFMPEG")):
                if index == 0 and array.shape[0] * array.shape[1] > max_pixels:
                    raise MediaTooLarge("Video frames are larger than allowed.")
                if index >= max_frames:
                    raise MediaTooLarge(f"Video has more than {max_frames} frames.")
                frames.append(Image.fromarray(array).convert("RGB"))
        except MediaTooLarge:
            raise
        except Exception:
            raise UnsupportedMedia(
                "Uploaded file is not a supported video (GIF, MP4, WebM, animated WebP/PNG)."
            ) from None
    if len(frames) < 2:
        raise UnsupportedMedia("A video needs at least two frames.")
    return frames


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(raw: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def png_data_url(image: Image.Image) -> str:
    return data_url(png_bytes(image), "image/png")


def parse_data_url(url: str) -> tuple[str, bytes]:
    """`data:<mime>;base64,<payload>` → (mime, bytes)."""
    if not url.startswith("data:") or ";base64," not in url:
        raise ValueError("Not a base64 data URL.")
    header, payload = url[5:].split(";base64,", 1)
    return header, base64.b64decode(payload)


def encode_gif(frames: Sequence[Image.Image], fps: float) -> bytes:
    # GIF delays are in hundredths of a second; PIL takes milliseconds and rounds.
    duration_ms = max(20, round(1000 / max(fps, 0.1)))
    buffer = io.BytesIO()
    first, *rest = [frame.convert("RGB") for frame in frames]
    first.save(buffer, format="GIF", save_all=True, append_images=rest, duration=duration_ms, loop=0)
    return buffer.getvalue()


def encode_apng(frames: Sequence[Image.Image], fps: float) -> bytes:
    """Lossless animated PNG: how one stage hands frames to the next without GIF's palette or H.264's loss."""
    buffer = io.BytesIO()
    first, *rest = [frame.convert("RGB") for frame in frames]
    first.save(buffer, format="PNG", save_all=True, append_images=rest, duration=round(1000 / max(fps, 0.1)), loop=0)
    return buffer.getvalue()


def encode_mp4(frames: Sequence[Image.Image], fps: float) -> bytes:
    """H.264 in MP4 through the ffmpeg binary that imageio-ffmpeg ships."""
    import imageio_ffmpeg

    arrays = [np.asarray(frame.convert("RGB")) for frame in frames]
    height, width = arrays[0].shape[:2]
    # yuv420p needs even sides; pad by one pixel rather than resample.
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        arrays = [np.pad(a, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") for a in arrays]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.mp4"
        writer = imageio_ffmpeg.write_frames(
            str(path),
            (width + pad_w, height + pad_h),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-movflags", "+faststart"],
        )
        writer.send(None)
        for array in arrays:
            writer.send(np.ascontiguousarray(array))
        writer.close()
        return path.read_bytes()
