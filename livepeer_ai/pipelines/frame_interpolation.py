"""Frame interpolation: a weight-free optical-flow interpolator and a TorchScript one.

The optical-flow path uses only OpenCV and numpy, so a process that never imports
torch (a CPU-only runner, a test) can still interpolate.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import cv2
import numpy as np
from PIL import Image

from livepeer_ai.pipelines.base import (
    CancelToken,
    InvalidParameters,
    ModelSpec,
    ProgressCallback,
    StepCounter,
)
from livepeer_ai.pipelines.outputs import GeneratedVideo

MIN_MULTIPLIER = 2
MAX_MULTIPLIER = 8
# RIFE and FILM downsample by 2^5 internally; other sizes misalign their pyramids.
PAD_MULTIPLE = 32
# Forward-backward check (Sundaram et al. 2010): tolerance grows with flow magnitude
# because large motions are estimated less precisely.
OCCLUSION_REL = 0.01
OCCLUSION_ABS = 0.5
# Below this total weight neither warped frame is trusted at a pixel.
MIN_WEIGHT = 1e-3

Synthesizer = Callable[[float], np.ndarray]


class FrameInterpolation:
    """Insert `multiplier - 1` frames between each pair of consecutive frames.

    Families:

    * ``optical-flow``: no weights. DIS optical flow (OpenCV) in both directions,
      Super SloMo-style linear approximation of the flows from time t back to each
      frame, backward warping and an occlusion-aware blend.
    * ``torchscript-interpolator``: a learned interpolator (RIFE, FILM, ...) saved with
      TorchScript at ``spec.local_path``. Contract: it is called as
      ``module(frame0, frame1, t)`` where ``frame0``/``frame1`` are float tensors of
      shape ``[1, 3, H, W]`` with values in ``[0, 1]``, on the pipeline's device and in
      its dtype, and ``t`` is a tensor of shape ``[1, 1]`` (same device and dtype)
      holding the time in ``(0, 1)``; it returns a ``[1, 3, H, W]`` tensor in
      ``[0, 1]``. H and W are padded (replicate) up to a multiple of 32 before the call
      and the result is cropped back.
    """

    pipeline = "frame-interpolation"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        self.spec = spec
        self.module: Any = None
        if spec.family == "optical-flow":
            self.device: str = "cpu"
            self.dtype: Any = None
        elif spec.family == "torchscript-interpolator":
            import torch

            from livepeer_ai.pipelines.device import pick_device

            self.device, self.dtype = pick_device(device)
            module = torch.jit.load(spec.local_path, map_location=self.device)
            # Checkpoints are usually saved in fp32; inputs arrive in the device's
            # dtype (fp16 on CUDA), and mixed dtypes make convolutions fail.
            self.module = module.to(dtype=self.dtype).eval()
        else:
            raise ValueError(
                f"Unknown frame-interpolation family {spec.family!r} for model {spec.model_id!r}; "
                "expected 'optical-flow' or 'torchscript-interpolator'."
            )

    def __call__(
        self,
        *,
        frames: list[Image.Image],
        multiplier: int,
        fps: float,
        on_progress: ProgressCallback,
        cancel: CancelToken,
    ) -> GeneratedVideo:
        _validate(frames, multiplier)
        rgb = [np.array(frame.convert("RGB"), dtype=np.uint8) for frame in frames]
        counter = StepCounter((len(rgb) - 1) * (multiplier - 1), on_progress, cancel)

        output: list[Image.Image] = []
        for frame0, frame1 in pairwise(rgb):
            output.append(Image.fromarray(frame0))
            # Set up lazily so a cancel between pairs skips the flow/model work too.
            synthesize: Synthesizer | None = None
            for k in range(1, multiplier):
                cancel.raise_if_canceled()
                if synthesize is None:
                    synthesize = self._synthesizer(frame0, frame1)
                output.append(Image.fromarray(synthesize(k / multiplier)))
                counter.advance()
        output.append(Image.fromarray(rgb[-1]))
        return GeneratedVideo(frames=output, fps=fps, seed=0)

    def _synthesizer(self, frame0: np.ndarray, frame1: np.ndarray) -> Synthesizer:
        if self.module is None:
            return _FlowPair(frame0, frame1).at
        return self._torch_synthesizer(frame0, frame1)

    def _torch_synthesizer(self, frame0: np.ndarray, frame1: np.ndarray) -> Synthesizer:
        import torch
        import torch.nn.functional as F

        height, width = frame0.shape[:2]
        pad_h = (-height) % PAD_MULTIPLE
        pad_w = (-width) % PAD_MULTIPLE

        def to_tensor(frame: np.ndarray) -> Any:
            tensor = torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0)
            tensor = tensor.to(self.device, dtype=torch.float32) / 255.0
            if pad_h or pad_w:
                # Pad before casting: some torch builds lack fp16 replicate-pad kernels.
                tensor = F.pad(tensor, (0, pad_w, 0, pad_h), mode="replicate")
            return tensor.to(self.dtype)

        with torch.inference_mode():
            tensor0 = to_tensor(frame0)
            tensor1 = to_tensor(frame1)

        def at(t: float) -> np.ndarray:
            with torch.inference_mode():
                time = torch.full((1, 1), t, device=self.device, dtype=self.dtype)
                result = self.module(tensor0, tensor1, time)
                result = result[:, :, :height, :width].float().clamp(0.0, 1.0)
                pixels = (result[0].permute(1, 2, 0) * 255.0).round().to(torch.uint8)
                return pixels.cpu().numpy()

        return at


def _validate(frames: list[Image.Image], multiplier: int) -> None:
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, int)
        or not MIN_MULTIPLIER <= multiplier <= MAX_MULTIPLIER
    ):
        raise InvalidParameters(
            f"multiplier must be an integer from {MIN_MULTIPLIER} to {MAX_MULTIPLIER}, got {multiplier!r}."
        )
    if len(frames) < 2:
        raise InvalidParameters(f"Frame interpolation needs at least 2 frames, got {len(frames)}.")
    sizes = {frame.size for frame in frames}
    if len(sizes) > 1:
        raise InvalidParameters(f"All frames must have the same size, got {sorted(sizes)}.")


class _FlowPair:
    """Bidirectional flow between two frames, reused for every t of the pair."""

    def __init__(self, frame0: np.ndarray, frame1: np.ndarray) -> None:
        self.frame0 = frame0
        self.frame1 = frame1
        height, width = frame0.shape[:2]
        xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self.grid = np.stack([xs, ys], axis=-1)

        # opencv's stubs lack its factories.
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
        gray0 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
        gray1 = cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
        self.flow01 = dis.calc(gray0, gray1, None)
        self.flow10 = dis.calc(gray1, gray0, None)
        # 1 where a frame-0 pixel is seen again in frame 1, and vice versa.
        self.visible0in1 = self._consistency(self.flow01, self.flow10)
        self.visible1in0 = self._consistency(self.flow10, self.flow01)

    def _remap(self, image: np.ndarray, flow: np.ndarray) -> np.ndarray:
        coords = self.grid + flow
        return cv2.remap(
            image,
            coords[..., 0],
            coords[..., 1],
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def _consistency(self, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
        backward_at_target = self._remap(backward, forward)
        error = np.sum((forward + backward_at_target) ** 2, axis=-1)
        tolerance = (
            OCCLUSION_REL * (np.sum(forward**2, axis=-1) + np.sum(backward_at_target**2, axis=-1)) + OCCLUSION_ABS
        )
        return (error <= tolerance).astype(np.float32)

    def at(self, t: float) -> np.ndarray:
        flow_t0 = -(1.0 - t) * t * self.flow01 + t * t * self.flow10
        flow_t1 = (1.0 - t) ** 2 * self.flow01 - t * (1.0 - t) * self.flow10
        warped0 = self._remap(self.frame0, flow_t0).astype(np.float32)
        warped1 = self._remap(self.frame1, flow_t1).astype(np.float32)

        # Masks are warped to time t with the same flows as the pixels, and crossed:
        # where the frame-0 source pixel is hidden in frame 1, the frame-1 sample at
        # this spot shows the occluder, so frame 1 is distrusted there (and vice versa).
        visible0 = self._remap(self.visible1in0, flow_t1)
        visible1 = self._remap(self.visible0in1, flow_t0)
        weight0 = (1.0 - t) * visible0
        weight1 = t * visible1
        total = weight0 + weight1
        fallback = total < MIN_WEIGHT
        weight0 = np.where(fallback, 1.0 - t, weight0 / np.maximum(total, MIN_WEIGHT))
        weight1 = np.where(fallback, t, weight1 / np.maximum(total, MIN_WEIGHT))

        blended = weight0[..., None] * warped0 + weight1[..., None] * warped1
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
