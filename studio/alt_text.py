"""Alternative text for every studio GIF, written by the network's own image-to-text (BLIP).

When a member's GIF job succeeds, the gateway says so (`queue.jobs_finished`, heard
in studio/job_events.py) and a Celery task (`tasks.caption_gif`) queues one image-to-text job on the GIF's first
frame, paid by the gateway as the GIF's stages are; when that job finishes, its
caption is cleaned and kept on the Generation. Until then, or if it fails, pages
show the fallback ("Generated GIF for: <prompt>"): a caption never holds up or
hides a GIF. The GIF's maker may write their own (`describe_by_maker`), which a
caption arriving later never replaces.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import Truncator
from PIL import Image

from livepeer_ai.gateway import payment, queue
from livepeer_ai.gateway.api import Upload
from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.workflow import create_api_job
from livepeer_ai.protocol.units import units_for
from livepeer_ai.registry.curation import ModelNotRoutable, routable_model
from livepeer_ai.runner.schemas import PARAMS_BY_PIPELINE
from studio.models import Generation

logger = logging.getLogger(__name__)

PIPELINE = "image-to-text"
# Starts the caption, so it reads as a description ("a picture of a robot …").
CAPTION_PROMPT = "a picture of"
# BLIP sees a 384-pixel square whatever it is sent; a bigger frame (an upscaled GIF's)
# would only cost more, as image-to-text bills the input's pixels.
MAX_FRAME_SIDE = 384
MAX_ALT_CHARS = Generation._meta.get_field("alt_text").max_length or 300


def clean_caption(text: str) -> str:
    """Model output made fit for an alt attribute: one line, no control or invisible characters, capped.

    (Escaping is the templates' job; this keeps what a screen reader would stumble on out.)
    """
    kept = "".join(char for char in text if char.isspace() or unicodedata.category(char)[0] != "C")
    return Truncator(" ".join(kept.split())).chars(MAX_ALT_CHARS)


def first_frame(job: Job) -> Upload | None:
    """The finished GIF's first frame as a PNG upload, at most MAX_FRAME_SIDE on a side; None without a GIF."""
    # The last stage that made a GIF made the finished one (as Job.final_output_url reads it).
    gifs = [job.outputs[stage]["gif"] for stage in reversed(job.stages) if job.outputs.get(stage, {}).get("gif")]
    if not gifs:
        return None
    path = gifs[0]
    with default_storage.open(path) as gif, Image.open(gif) as image:
        image.seek(0)
        frame = image.convert("RGB")
    frame.thumbnail((MAX_FRAME_SIDE, MAX_FRAME_SIDE))
    png = io.BytesIO()
    frame.save(png, format="PNG")
    return Upload(name="first-frame.png", raw=png.getvalue(), mime="image/png", size=frame.size, frames=1)


def why_not_captioned(upload: Upload) -> str:
    """Why the network cannot caption this frame now ("" when it can): the same checks an API request meets."""
    model_id = settings.DEFAULT_MODELS.get(PIPELINE, "")
    try:
        routable_model(PIPELINE, model_id)
    except ModelNotRoutable as exc:
        return exc.message
    fields = {"prompt": CAPTION_PROMPT, "model_id": model_id}
    return queue.unsold(PIPELINE, model_id) or payment.unpayable(
        PIPELINE, model_id, units_for(PIPELINE, fields, upload.size)
    )


def queue_caption(generation_id: Any) -> Job | None:
    """The image-to-text job for this generation's finished GIF; None when it has one already or cannot have one."""
    generation = Generation.objects.select_related("job").filter(id=generation_id).first()
    if generation is None or generation.caption_job_id or generation.job.status != JobStatus.SUCCEEDED:
        return None
    upload = first_frame(generation.job)
    if upload is None:
        return None
    reason = why_not_captioned(upload)
    if reason:
        logger.info("GIF %s keeps its fallback alt text: %s", generation.job_id, reason)
        return None
    fields = {"prompt": CAPTION_PROMPT, "model_id": settings.DEFAULT_MODELS.get(PIPELINE, "")}
    # Checked as the API checks an image-to-text request.
    params = PARAMS_BY_PIPELINE[PIPELINE].model_validate(fields)
    with transaction.atomic():
        # Claimed under the row's lock: a task delivered twice, or retried, queues one caption.
        claimed = Generation.objects.select_for_update().filter(id=generation.id, caption_job__isnull=True).first()
        if claimed is None:
            return None
        job = create_api_job(PIPELINE, params.model_dump(exclude_none=True, include=set(fields)), upload, None)
        # Who it was for (it has no API key): the GIF's maker, for the books and the admin.
        Job.objects.filter(id=job.id).update(owner_id=generation.member_id)
        Generation.objects.filter(id=generation.id).update(caption_job=job)
    return job


def store_caption(caption_job_ids: list[Any]) -> int:
    """Keep the captions these finished image-to-text jobs wrote; how many GIFs got one."""
    stored = 0
    for generation in Generation.objects.filter(caption_job_id__in=caption_job_ids).select_related("caption_job"):
        job = generation.caption_job
        assert job is not None
        text = clean_caption(str(job.outputs.get(PIPELINE, {}).get("text", "")))
        if job.status == JobStatus.SUCCEEDED and text:
            # Only where nothing is written yet: the maker's own words stand.
            stored += Generation.objects.filter(id=generation.id, alt_text="").update(alt_text=text)
    return stored


def describe_by_maker(generation: Generation, text: str) -> str:
    """The maker's own alternative text for their GIF, cleaned as a caption is; empty gives the fallback back."""
    generation.alt_text = clean_caption(text)
    generation.save(update_fields=["alt_text"])
    return generation.alt_text
