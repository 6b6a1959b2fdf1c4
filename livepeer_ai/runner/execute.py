"""From validated request parameters to a pipeline call and the runner API's response body."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from livepeer_ai.pipelines.audio import encode_wav
from livepeer_ai.pipelines.base import CancelToken, ModelSpec, ProgressCallback, resolve_seed
from livepeer_ai.pipelines.llm import Completion
from livepeer_ai.pipelines.loras import LoraRequest
from livepeer_ai.pipelines.media import data_url, encode_gif, encode_mp4, png_data_url
from livepeer_ai.pipelines.outputs import GeneratedImage, GeneratedVideo
from livepeer_ai.pipelines.segment_anything_2 import Masks
from livepeer_ai.pipelines.text_to_speech import Speech
from livepeer_ai.runner.jobs import JobFunction, TextCallback
from livepeer_ai.runner.schemas import RunnerParams, SegmentAnything2Params


def image_response(images: list[GeneratedImage]) -> dict[str, Any]:
    """ImageResponse (docs/protocol.md §1.3): PNG data URLs, one per seed."""
    return {
        "images": [
            {"url": png_data_url(item.image), "seed": item.seed, "nsfw": item.nsfw, "nsfw_checked": item.nsfw_checked}
            for item in images
        ]
    }


def video_response(video: GeneratedVideo) -> dict[str, Any]:
    """VideoResponse (frames) plus the GIF and MP4 the orchestrator would transcode to."""
    frames = [
        {"url": png_data_url(frame), "seed": video.seed, "nsfw": video.nsfw, "nsfw_checked": video.nsfw_checked}
        for frame in video.frames
    ]
    return {
        "frames": [frames],
        "fps": video.fps,
        "gif": {"url": data_url(encode_gif(video.frames, video.fps), "image/gif")},
        "mp4": {"url": data_url(encode_mp4(video.frames, video.fps), "video/mp4")},
    }


def llm_response(completion: Completion, model_id: str) -> dict[str, Any]:
    """LLMResponse: one choice whose `message` is the assistant's answer, and the tokens it used."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "model": model_id,
        "created": int(time.time()),
        "usage": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.prompt_tokens + completion.completion_tokens,
        },
        "choices": [
            {
                "index": 0,
                "finish_reason": completion.finish_reason,
                "message": {"role": "assistant", "content": completion.text},
            }
        ],
    }


def audio_response(speech: Speech) -> dict[str, Any]:
    """AudioResponse: the speech as a WAV data URL, as Livepeer's runner answers it."""
    return {"audio": {"url": data_url(encode_wav(speech.samples, speech.sample_rate), "audio/wav")}}


def masks_response(masks: Masks) -> dict[str, Any]:
    """MasksResponse as Livepeer's runner writes it: each array as the text of its nested list, an
    image's masks in order of descending score. A video's arrays lead with the frame (docs/api.md)."""
    order: Any = slice(None) if masks.frames else np.argsort(masks.scores)[::-1]
    body: dict[str, Any] = {
        "masks": str(masks.masks[order].tolist()),
        "scores": str(masks.scores[order].tolist()),
        "logits": str(masks.logits[order].tolist()),
    }
    if masks.frames:
        body["frames"] = masks.frames
    return body


def job_for(
    pipeline: Any,
    spec: ModelSpec,
    params: RunnerParams,
    media: Any,
    loras: Sequence[LoraRequest] = (),
    previews: bool = False,
) -> JobFunction:
    """`loras`: the request's LoRAs, resolved to their files (text-to-image and image-to-image).
    `previews`: progress events carry previews (text-to-image and image-to-video; pipelines/previews.py)."""
    values = params.model_dump()
    name = spec.pipeline
    prompt = params.segment_prompt() if isinstance(params, SegmentAnything2Params) else None

    def run(on_progress: ProgressCallback, cancel: CancelToken, on_text: TextCallback) -> dict[str, Any]:
        common = {"on_progress": on_progress, "cancel": cancel}
        if name == "text-to-image":
            return image_response(
                pipeline(
                    prompt=values["prompt"],
                    negative_prompt=values["negative_prompt"],
                    width=values["width"],
                    height=values["height"],
                    guidance_scale=values["guidance_scale"],
                    num_inference_steps=values["num_inference_steps"],
                    num_images_per_prompt=values["num_images_per_prompt"],
                    seed=resolve_seed(values["seed"]),
                    loras=loras,
                    previews=previews,
                    **common,
                )
            )
        if name == "image-to-image":
            return image_response(
                pipeline(
                    prompt=values["prompt"],
                    image=media,
                    negative_prompt=values["negative_prompt"],
                    strength=values["strength"],
                    guidance_scale=values["guidance_scale"],
                    num_inference_steps=values["num_inference_steps"],
                    num_images_per_prompt=values["num_images_per_prompt"],
                    seed=resolve_seed(values["seed"]),
                    loras=loras,
                    **common,
                )
            )
        if name == "image-to-video":
            return video_response(
                pipeline(
                    image=media,
                    width=values["width"],
                    height=values["height"],
                    fps=values["fps"],
                    motion_bucket_id=values["motion_bucket_id"],
                    noise_aug_strength=values["noise_aug_strength"],
                    num_inference_steps=values["num_inference_steps"],
                    seed=resolve_seed(values["seed"]),
                    previews=previews,
                    **common,
                )
            )
        if name == "upscale":
            return image_response(
                pipeline(
                    prompt=values["prompt"],
                    image=media,
                    negative_prompt=values["negative_prompt"],
                    num_inference_steps=values["num_inference_steps"],
                    seed=resolve_seed(values["seed"]),
                    **common,
                )
            )
        if name == "frame-interpolation":
            return video_response(pipeline(frames=media, multiplier=values["multiplier"], fps=values["fps"], **common))
        if name == "image-to-text":
            return {"text": pipeline(image=media, prompt=values["prompt"], **common)}
        if name == "audio-to-text":
            return pipeline(audio=media, return_timestamps=values["return_timestamps"].lower(), **common)
        if name == "llm":
            completion = pipeline(
                messages=[{"role": m["role"], "content": m["content"]} for m in values["messages"]],
                temperature=values["temperature"],
                max_tokens=values["max_tokens"],
                top_p=values["top_p"],
                top_k=values["top_k"],
                seed=resolve_seed(values["seed"]),
                on_text=on_text if values["stream"] else None,
                **common,
            )
            return llm_response(completion, spec.model_id)
        if name == "text-to-speech":
            # `description` steers a description-conditioned family (Parler-TTS); VITS, the family
            # served here, has one voice per checkpoint: the description is checked, not read.
            return audio_response(pipeline(text=values["text"], seed=resolve_seed(values["seed"]), **common))
        if name == "segment-anything-2":
            masks = pipeline(
                media=media,
                prompt=prompt,
                multimask_output=values["multimask_output"],
                return_logits=values["return_logits"],
                normalize_coords=values["normalize_coords"],
                **common,
            )
            return masks_response(masks)
        raise ValueError(f"Unknown pipeline {name!r}.")

    return run
