"""Starting from someone's GIF: what the create form is pre-filled with for a remix or a reused seed.

A remix asks for the GIF's settings again (prompt, model, style, stages, size, steps)
with a new random seed, so it makes a sibling; reusing the seed keeps only the seed and
the model, for a new prompt drawn from the same noise. Either way the member still presses Generate:
nothing is started from a link.
"""

from __future__ import annotations

import uuid
from typing import Any

from livepeer_ai.gateway import queue
from livepeer_ai.gateway.models import Job
from studio.creation import Limits
from studio.image_models import PIPELINE
from studio.models import Entry, Generation
from studio.results import studio_job, withheld_notice

REMIX = "remix"
SEED = "seed"
KINDS = (REMIX, SEED)


def requested(query: Any) -> tuple[str, str] | None:
    """(kind, job id) from the create page's query (`?remix=<job>` or `?seed=<job>`), if any."""
    for kind in KINDS:
        if query.get(kind):
            return kind, query[kind]
    return None


def used_seed(job: Job) -> int | None:
    """The seed the first frame was drawn from: the runner's answer, or what was asked for."""
    seed = job.outputs.get("text-to-image", {}).get("seed", job.parameters.get("seed"))
    return seed if isinstance(seed, int) else None


def prefill(job_id: Any, kind: str, user: Any, limits: Limits) -> dict[str, Any] | None:
    """The create form's initial values from the GIF `job_id`, or None when `user` may not open it.

    Steps over this round's limits come down to them, and stages the round forbids are
    left off, so the pre-filled form is one the round accepts. The GIF's model is picked
    in the form's model select; a round that no longer offers it shows its own models.
    """
    try:
        job = studio_job(uuid.UUID(str(job_id)), user) if kind in KINDS else None
    except ValueError:
        return None
    if job is None or withheld_notice(job, Entry.objects.filter(job=job).first(), user):
        return None
    model = {"model": queue.stage_model(job, PIPELINE)}
    if kind == SEED:
        # The same noise makes another picture through another model: the seed comes with its model.
        return {"seed": used_seed(job), **model}
    generation = Generation.objects.get(job=job)
    initial = {key: value for key, value in generation.choices.items() if key not in {"seed", "model"}}
    initial.update(model)
    initial.setdefault("prompt", generation.prompt)
    for name, most in (
        ("text_to_image_steps", limits.max_text_to_image_steps),
        ("image_to_video_steps", limits.max_image_to_video_steps),
    ):
        if isinstance(initial.get(name), int):
            initial[name] = min(initial[name], most)
    initial["upscale"] = bool(initial.get("upscale")) and limits.allow_upscale
    initial["interpolate"] = bool(initial.get("interpolate")) and limits.allow_interpolation
    return initial
