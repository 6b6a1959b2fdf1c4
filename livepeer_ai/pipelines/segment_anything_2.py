"""Segment Anything 2 through transformers: masks for an image from point, box or mask prompts, and
for a video the object prompted on its first frame, followed through every frame by SAM 2's memory.

SAM 2's image processor in transformers needs torchvision, which runners do not install; its
preprocessing is a few lines and is done here as SAM 2's own predictor does it: the picture
resized to the model's square input, scaled to [0, 1] and normalised with ImageNet's mean and
deviation; masks come back bilinearly resized to the input's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from livepeer_ai.pipelines.base import CancelToken, ModelSpec, ProgressCallback
from livepeer_ai.pipelines.device import pick_device
from livepeer_ai.pipelines.segment_prompts import SegmentPrompt

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# SAM 2's predictor: a mask is where its logits are above 0, and the low-resolution logits it
# returns are clamped to ±32.
MASK_THRESHOLD = 0.0
LOGIT_LIMIT = 32.0
# SAM 2's labels for a box's two corners, given to the model as two points before any clicks.
BOX_LABELS = (2, 3)
# The one object a video request follows (the video session's id for it).
OBJECT_ID = 1


@dataclass
class Masks:
    """An answer before encoding: for an image C masks, for a video one mask per frame.

    masks: C×H×W (video: F×1×H×W) at the input's size, logits or 0/1; scores: C (video: F×1);
    logits: the model's low-resolution logits, C×h×w (video: F×1×h×w); frames: 0 for an image.
    """

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray
    frames: int = 0


class SegmentAnything2:
    pipeline = "segment-anything-2"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from transformers import Sam2Config, Sam2Model, Sam2VideoModel

        self.spec = spec
        self.torch = torch
        self.device, self.dtype = pick_device(device)
        load = {"local_files_only": True, "dtype": self.dtype}
        self.video_model = Sam2VideoModel.from_pretrained(spec.local_path, **load).to(self.device).eval()
        video = self.video_model.config
        # The same checkpoint holds the image model: its image encoder, prompt encoder and mask decoder.
        config = Sam2Config(
            vision_config=video.vision_config.to_dict(),
            prompt_encoder_config=video.prompt_encoder_config.to_dict(),
            mask_decoder_config=video.mask_decoder_config.to_dict(),
        )
        self.image_model = Sam2Model.from_pretrained(spec.local_path, config=config, **load).to(self.device).eval()
        # One copy of the image encoder, most of SAM 2's weights: both models read it from one checkpoint.
        self.video_model.vision_encoder = self.image_model.vision_encoder
        self.side = int(video.prompt_encoder_config.image_size)

    def __call__(
        self,
        *,
        media: Image.Image | list[Image.Image],
        prompt: SegmentPrompt,
        multimask_output: bool,
        return_logits: bool,
        normalize_coords: bool,
        on_progress: ProgressCallback,
        cancel: CancelToken,
    ) -> Masks:
        cancel.raise_if_canceled()
        with self.torch.inference_mode():
            if isinstance(media, list):
                return self._video(media, prompt, return_logits, normalize_coords, on_progress, cancel)
            masks = self._image(media, prompt, multimask_output, return_logits, normalize_coords)
        on_progress(1, 1)
        return masks

    def _image(
        self, image: Image.Image, prompt: SegmentPrompt, multimask: bool, return_logits: bool, pixels: bool
    ) -> Masks:
        torch = self.torch
        inputs: dict[str, Any] = {"pixel_values": self._pixels(image).unsqueeze(0).to(self.device)}
        if prompt.points:
            inputs["input_points"] = self._coords(prompt.points, image.size, pixels).reshape(1, 1, -1, 2)
            inputs["input_labels"] = torch.tensor([[list(prompt.labels)]], dtype=torch.int64, device=self.device)
        if prompt.box is not None:
            inputs["input_boxes"] = self._coords(_corners(prompt.box), image.size, pixels).reshape(1, 1, 4)
        if prompt.mask is not None:
            inputs["input_masks"] = torch.from_numpy(prompt.mask).to(self.device, self.dtype).unsqueeze(0)
        output = self.image_model(**inputs, multimask_output=multimask)
        low_res = output.pred_masks[0, 0].float()  # C×h×w
        masks = self._full_size(low_res, image.size, return_logits)
        return Masks(
            masks=masks,
            scores=output.iou_scores[0, 0].float().cpu().numpy(),
            logits=low_res.clamp(-LOGIT_LIMIT, LOGIT_LIMIT).cpu().numpy(),
        )

    def _video(
        self,
        frames: list[Image.Image],
        prompt: SegmentPrompt,
        return_logits: bool,
        pixels: bool,
        on_progress: ProgressCallback,
        cancel: CancelToken,
    ) -> Masks:
        from transformers import Sam2VideoInferenceSession

        torch = self.torch
        size = frames[0].size
        session = Sam2VideoInferenceSession(
            video=torch.stack([self._pixels(frame) for frame in frames]),
            video_height=size[1],
            video_width=size[0],
            inference_device=self.device,
            inference_state_device=self.device,
            # The frames wait on the host, as SAM 2's predictor offloads a video: one at a time on the device.
            video_storage_device="cpu",
            dtype=self.dtype,
        )
        # SAM 2's video prompt: a box's corners first (labels 2 and 3), then the clicks, on frame 0.
        points = (_corners(prompt.box) if prompt.box is not None else ()) + prompt.points
        labels = (BOX_LABELS if prompt.box is not None else ()) + prompt.labels
        session.add_point_inputs(
            session.obj_id_to_idx(OBJECT_ID),
            0,
            {
                "point_coords": self._coords(points, size, pixels).reshape(1, 1, -1, 2),
                "point_labels": torch.tensor([[list(labels)]], dtype=torch.int32, device=self.device),
            },
        )
        session.obj_with_new_inputs = [OBJECT_ID]
        masks, scores, logits = [], [], []
        for output in self.video_model.propagate_in_video_iterator(session, start_frame_idx=0):
            low_res = output.pred_masks[0].float()  # 1×h×w: the one object
            masks.append(self._full_size(low_res, size, return_logits))
            # No IoU estimate while tracking: the score is SAM 2's belief that the object is in the frame.
            scores.append(torch.sigmoid(output.object_score_logits.float().reshape(1)).cpu().numpy())
            logits.append(low_res.clamp(-LOGIT_LIMIT, LOGIT_LIMIT).cpu().numpy())
            on_progress(len(masks), len(frames))
            cancel.raise_if_canceled()
        return Masks(np.stack(masks), np.stack(scores), np.stack(logits), frames=len(frames))

    def _pixels(self, image: Image.Image) -> Any:
        """3×S×S on the host, as SAM 2's predictor prepares an image: resized to its square input, normalised."""
        resized = image.convert("RGB").resize((self.side, self.side), Image.Resampling.BILINEAR)
        array = (np.asarray(resized, dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        return self.torch.from_numpy(array.astype(np.float32)).permute(2, 0, 1).to(dtype=self.dtype)

    def _coords(self, points: tuple[tuple[float, float], ...], size: tuple[int, int], pixels: bool) -> Any:
        """Points on the input (pixels, or fractions with `pixels` false) as points on the model's square input."""
        width, height = size if pixels else (1, 1)
        scaled = [(x * self.side / width, y * self.side / height) for x, y in points]
        return self.torch.tensor(scaled, dtype=self.torch.float32, device=self.device)

    def _full_size(self, low_res: Any, size: tuple[int, int], return_logits: bool) -> np.ndarray:
        """C×h×w logits as C×H×W at the input's size: logits, or 1.0 where the object is and 0.0 elsewhere."""
        width, height = size
        logits = self.torch.nn.functional.interpolate(
            low_res.unsqueeze(0), size=(height, width), mode="bilinear", align_corners=False
        )[0]
        masks = logits if return_logits else (logits > MASK_THRESHOLD).float()
        return np.asarray(masks.cpu().numpy(), dtype=np.float32)


def _corners(box: tuple[float, float, float, float]) -> tuple[tuple[float, float], ...]:
    return ((box[0], box[1]), (box[2], box[3]))
