"""Decoding uploads and encoding outputs: PNG data URLs, GIF, MP4.

No torch here: the worker uses it too.
"""

from __future__ import annotations

import base64
import io
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

# Uploads larger than this many pixels are refused before they are decoded
# (a 64 MP image is already far beyond anything the runners take as input).
MAX_INPUT_PIXELS = 64 * 1024 * 1024
# A video may hold no more pixels in all its frames than the largest still image:
# frames are kept decoded (3 bytes a pixel), so this bounds a video's memory to
# about 200 MB whatever its file size (100 frames of 2048x2048 fit in a 403 KB GIF
# and decode to 1.2 GB).
MAX_VIDEO_PIXELS = MAX_INPUT_PIXELS
MAX_VIDEO_FRAMES = 500


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


def decode_video_frames(
    raw: bytes, max_pixels: int = MAX_INPUT_PIXELS, max_frames: int = MAX_VIDEO_FRAMES
) -> list[Image.Image]:
    """Frames of an animated GIF/WebP/PNG or an MP4/WebM upload, as RGB images."""
    return [frame.convert("RGB") for frame in video_frames(raw, max_pixels, max_frames)]


def measure_upload(raw: bytes, is_video: bool) -> tuple[tuple[int, int], int]:
    """((width, height), frame count) of an upload, decoded safely; a still image counts 0 frames.

    A video's frames are decoded one at a time and dropped: what it costs is one frame.
    """
    if is_video:
        size, count = (0, 0), 0
        for frame in video_frames(raw):
            size, count = size if count else frame.size, count + 1
        return size, count
    return decode_image(raw).size, 0


def is_still_image(raw: bytes) -> bool:
    """Whether an upload is one picture; an animated GIF/WebP/PNG or a video is not. Refuses nothing:
    what this cannot open is left to the decoder that follows to name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as image:
                return int(getattr(image, "n_frames", 1)) < 2
    except Exception:
        return False


IMAGE_OR_VIDEO = (
    "Uploaded file is not a supported image (PNG, JPEG, WebP) or video (GIF, MP4, WebM, animated WebP/PNG)."
)


def measure_image_or_video(raw: bytes) -> tuple[tuple[int, int], int]:
    """measure_upload for an input that may be either: a still image counts 0 frames."""
    if is_still_image(raw):
        return measure_upload(raw, is_video=False)
    try:
        return measure_upload(raw, is_video=True)
    except UnsupportedMedia:
        raise UnsupportedMedia(IMAGE_OR_VIDEO) from None


def decode_image_or_video(raw: bytes) -> Image.Image | list[Image.Image]:
    """A still image, or every frame of a video (as decode_video_frames)."""
    if is_still_image(raw):
        return decode_image(raw)
    try:
        return decode_video_frames(raw)
    except UnsupportedMedia:
        raise UnsupportedMedia(IMAGE_OR_VIDEO) from None


def video_frames(
    raw: bytes, max_pixels: int = MAX_INPUT_PIXELS, max_frames: int = MAX_VIDEO_FRAMES
) -> Iterator[Image.Image]:
    """Each frame of a video upload in turn, refused (MediaTooLarge) before the frames would add up
    to more than MAX_VIDEO_PIXELS: for a picture format from its header, before any frame is decoded;
    for MP4/WebM as they are decoded. A frame yielded may be reused for the next: copy what you keep.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(f"Video is too large to decode safely: {exc}") from None
    except Exception:
        # Not a picture format Pillow knows: let ffmpeg try it as a video.
        return _ffmpeg_frames(raw, max_pixels, max_frames)
    try:
        # Read from the frames' headers (GIF) or the container's (APNG, WebP): nothing decoded yet.
        count = getattr(image, "n_frames", 1)
    except Exception:
        raise UnsupportedMedia("Uploaded file is not a supported video (GIF, MP4, WebM, animated WebP/PNG).") from None
    if count < 2:
        raise UnsupportedMedia("A video needs at least two frames; this is a still image.")
    _check_video_size(image.size, count, max_pixels, max_frames)
    return _pil_frames(image, count, max_pixels, max_frames)


def _check_video_size(size: tuple[int, int], frames: int, max_pixels: int, max_frames: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise MediaTooLarge(f"Video is {width}x{height}; at most {max_pixels} pixels a frame are accepted.")
    if frames > max_frames:
        raise MediaTooLarge(f"Video has {frames} frames; at most {max_frames} are accepted.")
    if width * height * frames > MAX_VIDEO_PIXELS:
        raise MediaTooLarge(
            f"Video is {frames} frames of {width}x{height}, {width * height * frames:,} pixels in all; "
            f"at most {MAX_VIDEO_PIXELS:,} are accepted (fewer frames or smaller ones)."
        )


def _pil_frames(image: Image.Image, count: int, max_pixels: int, max_frames: int) -> Iterator[Image.Image]:
    pixels = 0
    try:
        for index in range(count):
            image.seek(index)
            # A GIF frame may reach past the canvas its header declared, and Pillow grows the canvas.
            pixels += image.width * image.height
            _check_video_size(image.size, 1, max_pixels, max_frames)
            if pixels > MAX_VIDEO_PIXELS:
                raise MediaTooLarge(f"Video frames add up to more than {MAX_VIDEO_PIXELS:,} pixels, the most accepted.")
            image.load()
            yield image
    except MediaTooLarge:
        raise
    except Exception:
        raise UnsupportedMedia("Uploaded file is not a supported video (GIF, MP4, WebM, animated WebP/PNG).") from None


def _ffmpeg_frames(raw: bytes, max_pixels: int, max_frames: int) -> Iterator[Image.Image]:
    import imageio.v3 as iio

    # imageio picks its plugin by file extension; ffmpeg itself probes the content.
    suffix = ".webm" if raw[:4] == b"\x1a\x45\xdf\xa3" else ".mp4"
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(raw)
        handle.flush()
        count = 0
        try:
            for count, array in enumerate(iio.imiter(handle.name, plugin="FFMPEG"), start=1):
                height, width = array.shape[:2]
                # The frame count is known only at the end: the budget is checked as frames come.
                _check_video_size((width, height), count, max_pixels, max_frames)
                yield Image.fromarray(array)
        except MediaTooLarge:
            raise
        except Exception:
            raise UnsupportedMedia(
                "Uploaded file is not a supported video (GIF, MP4, WebM, animated WebP/PNG)."
            ) from None
    if count < 2:
        raise UnsupportedMedia("A video needs at least two frames.")


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
