from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from livepeer_ai.pipelines.base import (
    CancelToken,
    InvalidParameters,
    JobCanceled,
    ModelSpec,
)
from livepeer_ai.pipelines.frame_interpolation import FrameInterpolation

REPO_ROOT = Path(__file__).resolve().parents[3]
WIDTH, HEIGHT = 128, 96
SQUARE = 24
BACKGROUND, FOREGROUND = 20, 230


def flow_spec() -> ModelSpec:
    return ModelSpec(
        pipeline="frame-interpolation",
        model_id="opencv/dis",
        family="optical-flow",
        local_path="",
    )


def square_frame(x: int, y: int = 36) -> np.ndarray:
    pixels = np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)
    pixels[y : y + SQUARE, x : x + SQUARE] = FOREGROUND
    return pixels


def centroid(pixels: np.ndarray) -> tuple[float, float]:
    mass = np.clip(pixels.astype(np.float64).mean(axis=-1) - BACKGROUND, 0, None)
    ys, xs = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    return float((mass * xs).sum() / mass.sum()), float((mass * ys).sum() / mass.sum())


def noise_frame(seed: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def run(
    pipe: FrameInterpolation,
    frames: list[Image.Image],
    multiplier: int,
    cancel: CancelToken | None = None,
    calls: list[tuple[int, int]] | None = None,
) -> list[Image.Image]:
    progress = calls if calls is not None else []
    video = pipe(
        frames=frames,
        multiplier=multiplier,
        fps=24.0,
        on_progress=lambda step, total: progress.append((step, total)),
        cancel=cancel or CancelToken(),
    )
    return video.frames


def test_midpoint_frame_puts_moving_square_halfway_and_beats_crossfade() -> None:
    start, shift = 40, 16
    frame0, frame1 = square_frame(start), square_frame(start + shift)
    ideal = square_frame(start + shift // 2).astype(np.float64)

    frames = run(
        FrameInterpolation(flow_spec()),
        [Image.fromarray(frame0), Image.fromarray(frame1)],
        2,
    )
    middle = np.asarray(frames[1])

    assert middle.dtype == np.uint8 and middle.shape == (HEIGHT, WIDTH, 3)
    cx, cy = centroid(middle)
    assert abs(cx - (start + shift / 2 + (SQUARE - 1) / 2)) < 3
    assert abs(cy - (36 + (SQUARE - 1) / 2)) < 3
    interpolated_error = np.abs(middle - ideal).mean()
    crossfade_error = np.abs((frame0.astype(np.float64) + frame1) / 2 - ideal).mean()
    # Measured about 0.4 against 6.6 for the cross-fade.
    assert interpolated_error < crossfade_error / 4
    # A cross-fade leaves two half-bright squares; interpolation keeps it solid.
    assert middle[48, start + shift // 2 + SQUARE // 2].min() > FOREGROUND - 20


def test_quarter_frames_track_the_square_linearly() -> None:
    start, shift = 40, 16
    frames = run(
        FrameInterpolation(flow_spec()),
        [Image.fromarray(square_frame(start + k * shift)) for k in (0, 1)],
        4,
    )
    centers = [centroid(np.asarray(frame))[0] for frame in frames]
    expected = [start + (SQUARE - 1) / 2 + shift * k / 4 for k in range(5)]
    assert centers == pytest.approx(expected, abs=2)


def test_output_count_and_originals_kept_at_multiples_of_multiplier() -> None:
    originals = [noise_frame(seed) for seed in range(4)]
    multiplier = 3
    frames = run(FrameInterpolation(flow_spec()), originals, multiplier)

    assert len(frames) == (len(originals) - 1) * multiplier + 1
    for index, original in enumerate(originals):
        assert np.array_equal(np.asarray(frames[index * multiplier]), np.asarray(original))
    assert all(frame.size == (64, 48) and frame.mode == "RGB" for frame in frames)


def test_progress_counts_each_synthesized_frame_once() -> None:
    calls: list[tuple[int, int]] = []
    run(
        FrameInterpolation(flow_spec()),
        [noise_frame(seed) for seed in range(3)],
        4,
        calls=calls,
    )
    total = (3 - 1) * (4 - 1)
    assert calls == [(step, total) for step in range(1, total + 1)]


def test_cancel_from_progress_callback_stops_after_first_frame() -> None:
    cancel = CancelToken()
    calls: list[tuple[int, int]] = []

    def on_progress(step: int, total: int) -> None:
        calls.append((step, total))
        cancel.cancel()

    with pytest.raises(JobCanceled):
        FrameInterpolation(flow_spec())(
            frames=[noise_frame(0), noise_frame(1), noise_frame(2)],
            multiplier=4,
            fps=24.0,
            on_progress=on_progress,
            cancel=cancel,
        )
    assert calls == [(1, 6)]


@pytest.mark.parametrize("multiplier", [1, 9, 0, -2])
def test_multiplier_outside_two_to_eight_is_rejected(multiplier: int) -> None:
    with pytest.raises(InvalidParameters, match="multiplier"):
        run(
            FrameInterpolation(flow_spec()),
            [noise_frame(0), noise_frame(1)],
            multiplier,
        )


def test_non_integer_multiplier_is_rejected() -> None:
    with pytest.raises(InvalidParameters, match="multiplier"):
        run(FrameInterpolation(flow_spec()), [noise_frame(0), noise_frame(1)], 2.0)  # type: ignore[arg-type]


def test_single_frame_is_rejected() -> None:
    with pytest.raises(InvalidParameters, match="at least 2"):
        run(FrameInterpolation(flow_spec()), [noise_frame(0)], 2)


def test_frames_of_different_sizes_are_rejected() -> None:
    with pytest.raises(InvalidParameters, match="same size"):
        run(
            FrameInterpolation(flow_spec()),
            [noise_frame(0), noise_frame(1, size=(64, 50))],
            2,
        )


def test_unknown_family_raises_value_error() -> None:
    spec = ModelSpec(pipeline="frame-interpolation", model_id="x/y", family="magic", local_path="")
    with pytest.raises(ValueError, match="magic"):
        FrameInterpolation(spec)


@pytest.mark.integration
def test_optical_flow_path_never_imports_torch() -> None:
    script = textwrap.dedent(
        """
        import sys
        from PIL import Image
        from livepeer_ai.pipelines.base import CancelToken, ModelSpec
        from livepeer_ai.pipelines.frame_interpolation import FrameInterpolation

        spec = ModelSpec(pipeline="frame-interpolation", model_id="m", family="optical-flow", local_path="")
        frames = [Image.new("RGB", (32, 24), (10, 10, 10)), Image.new("RGB", (32, 24), (200, 200, 200))]
        video = FrameInterpolation(spec)(
            frames=frames, multiplier=2, fps=1.0, on_progress=lambda s, t: None, cancel=CancelToken()
        )
        assert len(video.frames) == 3
        print("torch" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == "False"


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_interpolator_blends_and_preserves_odd_sizes(
    tmp_path: Path,
) -> None:
    torch = pytest.importorskip("torch")

    class Blend(torch.nn.Module):
        def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            # Fail loudly if the pipeline skipped padding to a multiple of 32.
            assert frame0.shape[2] % 32 == 0 and frame0.shape[3] % 32 == 0
            weight = t.reshape(-1, 1, 1, 1)
            return frame0 * (1 - weight) + frame1 * weight

    path = tmp_path / "interp.pt"
    torch.jit.script(Blend()).save(str(path))
    spec = ModelSpec(
        pipeline="frame-interpolation",
        model_id="test/blend",
        family="torchscript-interpolator",
        local_path=str(path),
    )
    first, second = noise_frame(1, size=(70, 50)), noise_frame(2, size=(70, 50))
    calls: list[tuple[int, int]] = []
    frames = run(FrameInterpolation(spec, device="cpu"), [first, second], 2, calls=calls)

    assert len(frames) == 3 and all(frame.size == (70, 50) for frame in frames)
    expected = (np.asarray(first, dtype=np.float64) + np.asarray(second, dtype=np.float64)) / 2
    assert np.abs(np.asarray(frames[1], dtype=np.float64) - expected).max() <= 1.0
    assert np.array_equal(np.asarray(frames[0]), np.asarray(first))
    assert np.array_equal(np.asarray(frames[2]), np.asarray(second))
    assert calls == [(1, 1)]
