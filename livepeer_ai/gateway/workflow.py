"""A job's stages in order, each stage's output feeding the next.

What each stage sends (`stage_request`) and what it keeps of the answer
(`store_result`). The engine (gateway/engine.py) takes a stage from the queue
(gateway/queue.py), sends it to the node the dispatch chose, and comes back here
with the result; each stage may run on a different orchestrator. Upscale is one
request per frame, each a piece of the stage that may land on another node.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from livepeer_ai.gateway import masks, queue, webhooks
from livepeer_ai.gateway.models import Job
from livepeer_ai.gateway.receipts import attach_receipt
from livepeer_ai.gateway.stage_request import StageRequest, latency_steps
from livepeer_ai.json_input import storable
from livepeer_ai.payments.eth_usd import current_rate
from livepeer_ai.pipelines.media import encode_apng, encode_gif, encode_mp4, parse_data_url
from livepeer_ai.protocol.units import units_for
from livepeer_ai.runner.client import RunnerError
from livepeer_ai.runner.schemas import FILE_FIELDS

logger = logging.getLogger(__name__)

GIF_STAGES = ["text-to-image", "image-to-video"]
# Optional stages, in chain order after the video: each feeds the next.
OPTIONAL_STAGES = ["upscale", "frame-interpolation"]
# The SD x4 upscaler multiplies each side by 4; with it on, the earlier stages
# work at a quarter of the GIF's size, the cheap way to a sharper result.
UPSCALE_FACTOR = 4

# What the studio slice asks of each stage unless the job overrides it.
# width/height are the finished GIF's.
DEFAULT_PARAMETERS: dict[str, Any] = {
    "width": 256,
    "height": 256,
    "text_to_image_steps": 6,
    "image_to_video_steps": 12,
    "upscale_steps": 4,
    "fps": 6,
    "motion_bucket_id": 127,
    "interpolation_multiplier": 2,
    "negative_prompt": "",
    # The first frame's LoRAs, as the runner API's `loras` field ("" for none).
    "loras": "",
}


def create_gif_job(
    prompt: str,
    *,
    owner: Any = None,
    session_key: str = "",
    seed: int | None = None,
    upscale: bool = False,
    interpolate: bool = False,
    parameters: dict[str, Any] | None = None,
    models: dict[str, str] | None = None,
) -> Job:
    """A queued GIF job; `parameters` overrides DEFAULT_PARAMETERS (and may add a "style" label).

    `models`: stage → model id, for the stages that run another model than their default.
    """
    unknown = set(parameters or {}) - set(DEFAULT_PARAMETERS) - {"style"}
    if unknown:
        raise ValueError(f"Unknown GIF parameters: {sorted(unknown)}")
    parameters = {**DEFAULT_PARAMETERS, **(parameters or {})}
    if seed is not None:
        parameters["seed"] = seed
    stages = gif_stages(upscale=upscale, interpolate=interpolate)
    not_stages = set(models or {}) - set(stages)
    if not_stages:
        raise ValueError(f"Models named for stages this job does not have: {sorted(not_stages)}")
    if models:
        parameters["models"] = dict(models)
    rate = current_rate().recorded()  # read before the transaction: it may ask the chain
    with transaction.atomic():
        job = Job.objects.create(
            prompt=prompt, owner=owner, session_key=session_key, parameters=parameters, stages=stages, **rate
        )
        queue.enqueue(job)
    return job


def shows_previews(job: Job) -> bool:
    """Whether anyone watching the job can see previews of its stages as they form (pipelines/previews.py).

    A GIF job's page shows them to its maker; an API job's caller gets progress and the
    result only, so asking its node for previews would cost the runner for nothing.
    """
    return not job.parameters.get("api")


def gif_stages(*, upscale: bool, interpolate: bool) -> list[str]:
    """A GIF job's stages in chain order: text-to-image → image-to-video → [upscale] → [interpolation]."""
    stages = list(GIF_STAGES)
    if upscale:
        stages.append("upscale")
    if interpolate:
        stages.append("frame-interpolation")
    return stages


def billed_units(job: Job) -> list[tuple[str, str, int]]:
    """(stage, model id, units) of each GIF stage whose bill is known before the job runs, as it will be sent.

    Upscale bills per frame (one frame at the size the video is made at); frame
    interpolation is left out: its units depend on the frames the video stage returns.
    """
    known = []
    for stage in job.stages:
        if stage == "text-to-image":
            body = text_to_image_body(job)
            known.append((stage, body["model_id"], units_for(stage, body)))
        elif stage == "image-to-video":
            form = image_to_video_form(job)
            known.append((stage, form["model_id"], units_for(stage, form)))
        elif stage == "upscale":
            known.append((stage, queue.stage_model(job, stage), units_for(stage, {}, generation_size(job))))
    return known


def stage_request(job: Job, stage_index: int, part: int) -> StageRequest:
    """What piece `part` of stage `stage_index` sends to a node."""
    stage = job.stages[stage_index]
    if job.parameters.get("api"):
        return api_stage_request(job, stage)
    plan = GIF_STAGE_PLANS.get(stage)
    if plan is None:
        raise RunnerError(400, f"Stage {stage!r} is not part of the GIF workflow.")
    return plan[0](job, stage_index, part)


def store_result(job: Job, stage_index: int, part: int, result: dict[str, Any], media: Media | None = None) -> bool:
    """Keep what the stage made (with the `media` made from it off the DB thread); True when more pieces follow."""
    stage = job.stages[stage_index]
    if job.parameters.get("api"):
        store_api_result(job, stage, result)
        return False
    return GIF_STAGE_PLANS[stage][1](job, stage_index, part, result, media or {})


# Files made from a stage's answer before it is stored: kind ("gif", "mp4") → bytes.
Media = dict[str, bytes]


def media_work(job: Job, stage_index: int) -> Callable[[dict[str, Any]], Media] | None:
    """What must be made from this piece's answer before it is stored, or None.

    The engine runs it off its one DB thread (gateway/engine.py): at real sizes,
    making an upscaled video's GIF and MP4 takes seconds, and every stage's DB
    work would wait for it. It reads files, never the DB.
    """
    stage = job.stages[stage_index]
    if stage != "upscale" or job.parameters.get("api"):
        return None
    piece, pieces = stage_pieces(job, stage_index)
    if piece != pieces - 1:
        return None
    done = list(job.outputs.get(stage, {}).get("frames", []))
    fps = job.outputs[job.stages[stage_index - 1]]["fps"]

    def assemble(result: dict[str, Any]) -> Media:
        _mime, last = parse_data_url(result["images"][0]["url"])
        frames = [Image.open(default_storage.open(path)) for path in done] + [Image.open(io.BytesIO(last))]
        return {"gif": encode_gif(frames, fps), "mp4": encode_mp4(frames, fps)}

    return assemble


def stage_pieces(job: Job, stage_index: int) -> tuple[int, int]:
    """(the piece about to be sent, how many there are): upscale sends each frame alone, the others one request."""
    stage = job.stages[stage_index]
    if stage != "upscale" or job.parameters.get("api"):
        return 0, 1
    done = len(job.outputs.get(stage, {}).get("frames", []))
    return done, len(job.outputs[job.stages[stage_index - 1]]["frames"])


def generation_size(job: Job) -> tuple[int, int]:
    """(width, height) the text-to-image and image-to-video stages work at."""
    width, height = job.parameters["width"], job.parameters["height"]
    if "upscale" in job.stages:
        return width // UPSCALE_FACTOR, height // UPSCALE_FACTOR
    return width, height


def text_to_image_request(job: Job, index: int, part: int) -> StageRequest:
    stage = job.stages[index]
    body = text_to_image_body(job)
    return StageRequest(stage, body["model_id"], units_for(stage, body), body["num_inference_steps"], json_body=body)


def store_text_to_image(job: Job, index: int, part: int, result: dict[str, Any], media: Media) -> bool:
    image = result["images"][0]
    save_output(job, job.stages[index], "image", "image.png", image["url"], seed=image["seed"], **safety_flags([image]))
    return False


def image_to_video_request(job: Job, index: int, part: int) -> StageRequest:
    stage = job.stages[index]
    source = default_storage.open(job.outputs["text-to-image"]["image"]).read()
    form = image_to_video_form(job)
    return StageRequest(
        stage,
        form["model_id"],
        units_for(stage, form),
        form["num_inference_steps"],
        form=form,
        files={"image": ("image.png", source, "image/png")},
    )


def store_video_stage(job: Job, index: int, part: int, result: dict[str, Any], media: Media) -> bool:
    save_video(job, job.stages[index], result)
    return False


def upscale_request(job: Job, index: int, part: int) -> StageRequest:
    """Frame `part` of the video before it: one upscale request, each possibly on another node."""
    stage = job.stages[index]
    source = job.outputs[job.stages[index - 1]]
    p = job.parameters
    form = {
        "prompt": job.prompt,
        "negative_prompt": p.get("negative_prompt", ""),
        "num_inference_steps": p["upscale_steps"],
        "model_id": queue.stage_model(job, stage),
    }
    seed = job.outputs.get("text-to-image", {}).get("seed")
    if seed is not None:
        form["seed"] = seed
    # Frames already kept (a stage re-driven after its worker died) are not sent again.
    frame_index = len(job.outputs.get(stage, {}).get("frames", []))
    raw = default_storage.open(source["frames"][frame_index]).read()
    size = Image.open(io.BytesIO(raw)).size
    return StageRequest(
        stage,
        form["model_id"],
        units_for(stage, form, size),
        form["num_inference_steps"],
        form=form,
        files={"image": (f"frame-{frame_index:03d}.png", raw, "image/png")},
    )


def store_upscaled_frame(job: Job, index: int, part: int, result: dict[str, Any], media: Media) -> bool:
    """Upscaled frames are stored as they arrive; the GIF and MP4 once the last is in.

    The last frame is counted done only after the GIF and MP4 exist: a stage re-driven
    in between (its engine died while encoding) sends that frame again, never nothing.
    """
    stage = job.stages[index]
    source = job.outputs[job.stages[index - 1]]
    outputs = job.outputs.setdefault(stage, {})
    done: list[str] = list(outputs.get("frames", []))
    frame_index = len(done)
    flags = safety_flags(result["images"][:1])
    outputs["nsfw"] = outputs.get("nsfw", False) or flags["nsfw"]
    outputs["nsfw_checked"] = outputs.get("nsfw_checked", True) and flags["nsfw_checked"]
    _mime, upscaled = parse_data_url(result["images"][0]["url"])
    done.append(default_storage.save(f"jobs/{job.id}/{stage}/frame-{frame_index:03d}.png", ContentFile(upscaled)))
    attach_receipt(job, stage, done[-1], upscaled)
    if len(done) == len(source["frames"]):
        # Made from the frames off the DB thread (media_work), before this was called.
        save_media(job, stage, "gif", "video.gif", media["gif"])
        save_media(job, stage, "mp4", "video.mp4", media["mp4"], fps=source["fps"])
    outputs["frames"] = done
    Job.objects.filter(id=job.id).update(outputs=job.outputs, updated_at=timezone.now())
    return len(done) < len(source["frames"])


def frame_interpolation_request(job: Job, index: int, part: int) -> StageRequest:
    stage = job.stages[index]
    source = job.outputs[job.stages[index - 1]]
    frames = [Image.open(default_storage.open(path)) for path in source["frames"]]
    multiplier = job.parameters["interpolation_multiplier"]
    form = {
        "multiplier": multiplier,
        "fps": source["fps"] * multiplier,
        "model_id": queue.stage_model(job, stage),
    }
    return StageRequest(
        stage,
        form["model_id"],
        units_for(stage, form, frames[0].size, len(frames)),
        # One step per pair of neighbouring frames, as the runner reports them.
        len(frames) - 1,
        form=form,
        files={"video": ("video.png", encode_apng(frames, source["fps"]), "image/apng")},
    )


# Per stage: what a piece sends, and what is kept of its answer.
GIF_STAGE_PLANS: dict[
    str, tuple[Callable[[Job, int, int], StageRequest], Callable[[Job, int, int, dict[str, Any], Media], bool]]
] = {
    "text-to-image": (text_to_image_request, store_text_to_image),
    "image-to-video": (image_to_video_request, store_video_stage),
    "upscale": (upscale_request, store_upscaled_frame),
    "frame-interpolation": (frame_interpolation_request, store_video_stage),
}


def text_to_image_body(job: Job) -> dict[str, Any]:
    p = job.parameters
    width, height = generation_size(job)
    body = {
        "prompt": job.prompt,
        "negative_prompt": p.get("negative_prompt", ""),
        "width": width,
        "height": height,
        "num_inference_steps": p["text_to_image_steps"],
        "model_id": queue.stage_model(job, "text-to-image"),
    }
    if "seed" in p:
        body["seed"] = p["seed"]
    if p.get("loras"):
        body["loras"] = p["loras"]
    return body


def image_to_video_form(job: Job) -> dict[str, Any]:
    p = job.parameters
    width, height = generation_size(job)
    form = {
        "width": width,
        "height": height,
        "fps": p["fps"],
        "motion_bucket_id": p["motion_bucket_id"],
        "num_inference_steps": p["image_to_video_steps"],
        "model_id": queue.stage_model(job, "image-to-video"),
    }
    seed = job.outputs.get("text-to-image", {}).get("seed")
    if seed is not None:
        form["seed"] = seed
    return form


def save_output(job: Job, stage: str, kind: str, filename: str, url: str, **extra: Any) -> None:
    _mime, raw = parse_data_url(url)
    save_media(job, stage, kind, filename, raw, **extra)


def save_media(job: Job, stage: str, kind: str, filename: str, raw: bytes, **extra: Any) -> None:
    path = default_storage.save(f"jobs/{job.id}/{stage}/{filename}", ContentFile(raw))
    attach_receipt(job, stage, path, raw)
    job.outputs.setdefault(stage, {}).update({kind: path, **extra})
    Job.objects.filter(id=job.id).update(outputs=job.outputs, updated_at=timezone.now())


def save_video(job: Job, stage: str, result: dict[str, Any]) -> None:
    """A video stage's frames (the next stage's input), GIF and MP4."""
    frames = []
    for frame_index, frame in enumerate(result["frames"][0]):
        _mime, raw = parse_data_url(frame["url"])
        frames.append(default_storage.save(f"jobs/{job.id}/{stage}/frame-{frame_index:03d}.png", ContentFile(raw)))
    job.outputs.setdefault(stage, {}).update(
        {"frames": frames, "fps": result["fps"], **safety_flags(result["frames"][0])}
    )
    save_output(job, stage, "gif", "video.gif", result["gif"]["url"])
    save_output(job, stage, "mp4", "video.mp4", result["mp4"]["url"])


def safety_flags(items: list[dict[str, Any]]) -> dict[str, bool]:
    """Whether the runner flagged any output NSFW, and whether it checked every one at all."""
    return {
        "nsfw": any(bool(item.get("nsfw")) for item in items),
        "nsfw_checked": bool(items) and all(bool(item.get("nsfw_checked")) for item in items),
    }


def create_api_job(
    pipeline: str,
    fields: dict[str, Any],
    upload: Any,
    api_key: Any,
    *,
    idempotency_key: str = "",
    request_digest: str = "",
    fee_estimate_wei: int = 0,
    webhook: webhooks.Subscription | None = None,
    rate: dict[str, Any] | None = None,
) -> Job:
    """A one-stage job from the public API: the runner route's fields, and its upload stored.

    `upload` (gateway.api.Upload) carries the input's measured size, kept for billing;
    `fee_estimate_wei`, the most it may cost, counts against the key's daily limit until it
    finishes (gateway/usage.py). A `webhook` is told it was queued in the same transaction.
    `rate`: the ETH/USD rate as recorded (`EthUsdRate.recorded()`), read by a caller that
    opens its own transaction around this one before it does; else read here.
    """
    if rate is None:
        rate = current_rate().recorded()  # read before the transaction: it may ask the chain
    with transaction.atomic():
        job = Job.objects.create(
            prompt=str(fields.get("prompt", ""))[:2000],
            api_key=api_key,
            stages=[pipeline],
            parameters={
                "api": True,
                "request": fields,
                "fee_estimate_wei": str(fee_estimate_wei),
                **({webhooks.URL_FIELD: webhook.stored()} if webhook else {}),
            },
            idempotency_key=idempotency_key,
            request_digest=request_digest,
            **rate,
        )
        if upload is not None:
            store_upload(job, upload)
        queue.enqueue(job)
        webhooks.announce_job(job, "queued")
    return job


def store_upload(job: Job, upload: Any) -> None:
    """The upload is kept beside the job, with its measured size and frames (what the stage bills from)."""
    name = Path(upload.name).name or "upload"
    path = default_storage.save(f"jobs/{job.id}/input-{name}", ContentFile(upload.raw))
    job.parameters.update(
        {
            "input": path,
            "input_name": name,
            "input_mime": upload.mime,
            "input_size": list(upload.size),
            "input_frames": upload.frames,
            "input_ms": upload.ms,
        }
    )
    job.save(update_fields=["parameters"])


def api_stage_request(job: Job, stage: str) -> StageRequest:
    fields = dict(job.parameters["request"])
    fields["model_id"] = queue.stage_model(job, stage)
    steps = latency_steps(stage, fields, job.parameters.get("input_frames", 0))
    if stage not in FILE_FIELDS:
        request = StageRequest(stage, fields["model_id"], units_for(stage, fields), steps, json_body=fields)
    else:
        raw = default_storage.open(job.parameters["input"]).read()
        width, height = job.parameters["input_size"]
        units = units_for(
            stage, fields, (width, height), job.parameters["input_frames"], job.parameters.get("input_ms", 0)
        )
        files = {FILE_FIELDS[stage]: (job.parameters["input_name"], raw, job.parameters["input_mime"])}
        request = StageRequest(stage, fields["model_id"], units, steps, form=fields, files=files)
    return request


LLM_RESPONSE_FIELDS = ("id", "model", "created", "usage", "choices")


def store_api_result(job: Job, stage: str, result: dict[str, Any]) -> None:
    if "choices" in result:
        # llm's answer is kept as the runner sent it, less the node's receipts (it has no media to sign).
        # NUL taken out of the model's text: PostgreSQL's jsonb cannot hold it (json_input.storable).
        job.outputs[stage] = storable({key: result[key] for key in LLM_RESPONSE_FIELDS if key in result})
        Job.objects.filter(id=job.id).update(outputs=job.outputs, updated_at=timezone.now())
    elif masks.is_masks(result):
        job.outputs[stage] = masks.store_masks(job, result)
        Job.objects.filter(id=job.id).update(outputs=job.outputs, updated_at=timezone.now())
    elif "text" in result:
        # Text answers are kept as the runner sent them (no media to store).
        job.outputs[stage] = storable({key: result[key] for key in ("text", "chunks") if key in result})
        Job.objects.filter(id=job.id).update(outputs=job.outputs, updated_at=timezone.now())
    elif "audio" in result:
        # text-to-speech's WAV, kept as a file like images are; the answer links to it.
        save_output(job, stage, "audio", "speech.wav", result["audio"]["url"])
    elif "images" in result:
        stored = []
        for index, image in enumerate(result["images"]):
            _mime, raw_image = parse_data_url(image["url"])
            path = default_storage.save(f"jobs/{job.id}/image-{index}.png", ContentFile(raw_image))
            attach_receipt(job, stage, path, raw_image)
            stored.append({"path": path, "seed": image.get("seed"), "nsfw": image.get("nsfw", False)})
        job.outputs[stage] = {"images": stored}
        Job.objects.filter(id=job.id).update(outputs=job.outputs, updated_at=timezone.now())
    else:
        seed = result["frames"][0][0].get("seed") if result.get("frames") else None
        save_output(job, stage, "gif", "video.gif", result["gif"]["url"], seed=seed)
        save_output(job, stage, "mp4", "video.mp4", result["mp4"]["url"])
