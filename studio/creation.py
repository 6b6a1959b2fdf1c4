"""Starting a member's GIF: the round's rules, model and quota, the style's words and LoRA, then a gateway job.

The form checks the bounds for a friendly message; `start_generation` checks them
again, so a retry or a hand-made POST meets the same rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from livepeer_ai.gateway import payment, queue
from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.workflow import DEFAULT_PARAMETERS, billed_units, create_gif_job, gif_stages
from livepeer_ai.registry.curation import ModelNotRoutable, routable_model
from livepeer_ai.registry.loras import approved_loras_for, routable_loras
from livepeer_ai.registry.models import ModelEntry
from studio.image_models import PIPELINE, chosen_model, model_label
from studio.models import Generation, Round
from studio.presets import STYLE_PRESETS, apply_style
from studio.refusals import Refused
from studio.rounds import current_round

# Bounds that are not the round's to set: motion_bucket_id and fps as the runner
# API accepts them (docs/protocol.md §1.2), kept to what makes sense for a short GIF.
MOTION_RANGE = (1, 255)
FPS_RANGE = (1, 30)
SEED_MAX = 2**32 - 1
# The finished GIF's (width, height) per aspect ratio. Runners take sides that are multiples
# of 8 up to the model's max_side (docs/protocol.md §1.2); with "Upscale ×4" the first stages
# work at a quarter of each side, and the video model's latents halve once more, so every side
# here is a multiple of 64: a quarter of it still divides by 16.
SIZES = {
    "square": ("Square", 256, 256),
    "landscape": ("Landscape 3:2", 384, 256),
    "portrait": ("Portrait 2:3", 256, 384),
}
DEFAULT_SIZE = "square"
# A LoRA picked in the studio is applied to the first frame at this weight (the runner API's `loras`).
LORA_WEIGHT = 1.0


@dataclass(frozen=True)
class Limits:
    """What a member may ask for: the current round's rules, or the runner API's defaults outside a round."""

    allow_upscale: bool = True
    allow_interpolation: bool = True
    max_text_to_image_steps: int = 50
    max_image_to_video_steps: int = 25

    @classmethod
    def of(cls, round: Round | None) -> Limits:
        if round is None:
            return cls()
        return cls(
            allow_upscale=round.allow_upscale,
            allow_interpolation=round.allow_interpolation,
            max_text_to_image_steps=round.max_text_to_image_steps,
            max_image_to_video_steps=round.max_image_to_video_steps,
        )

    def problems(self, choices: dict[str, Any]) -> list[str]:
        found = []
        if choices.get("upscale") and not self.allow_upscale:
            found.append("This round's rules do not allow upscaling.")
        if choices.get("interpolate") and not self.allow_interpolation:
            found.append("This round's rules do not allow frame interpolation.")
        bounds = {
            "text_to_image_steps": ("Image steps", 1, self.max_text_to_image_steps),
            "image_to_video_steps": ("Video steps", 1, self.max_image_to_video_steps),
            "motion_bucket_id": ("Motion amount", *MOTION_RANGE),
            "fps": ("Frames per second", *FPS_RANGE),
        }
        for name, (label, low, high) in bounds.items():
            value = choices.get(name, DEFAULT_PARAMETERS[name])
            if not isinstance(value, int) or not low <= value <= high:
                found.append(f"{label} must be between {low} and {high}.")
        seed = choices.get("seed")
        if seed is not None and (not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
            found.append(f"The seed must be between 0 and {SEED_MAX}.")
        if choices.get("style", "") not in STYLE_PRESETS:
            found.append("Unknown style.")
        if choices.get("size", DEFAULT_SIZE) not in SIZES:
            found.append("Unknown aspect ratio.")
        return found


QUOTA_RULE = "Failed GIFs, and GIFs canceled before their first frame was made, don't count."


def quota_message(round: Round) -> str:
    return (
        f"You have made all {round.generations_per_member} GIFs this round allows "
        f"(“{round.title}”). {QUOTA_RULE} The next round brings new ones."
    )


def check_models_routable(choices: dict[str, Any], models: dict[str, str]) -> None:
    """Every stage's model (`models`' for the stages it names, else the default) is approved by the network's
    curators and sold by some node, or Refused before any job exists.

    The gateway would fail such a job at dispatch anyway; refusing here spares the
    member a queued job that cannot run, and a GIF from their quota.
    """
    stages = gif_stages(upscale=bool(choices.get("upscale")), interpolate=bool(choices.get("interpolate")))
    for stage in stages:
        model_id = models.get(stage) or settings.DEFAULT_MODELS.get(stage, "")
        try:
            routable_model(stage, model_id)
        except ModelNotRoutable as exc:
            raise Refused(f"GIFs can't be made with these stages right now. {exc.message}", status=503) from None
        unsold = queue.unsold(stage, model_id)
        if unsold:
            raise Refused(f"GIFs can't be made with these stages right now. {unsold}", status=503)


LoraChoices = list[tuple[str, Any]]


def lora_choices(models: list[ModelEntry]) -> LoraChoices:
    """The approved LoRAs the offered image `models` take, as the picker's choices: (name, what it shows)
    for one model; for more, grouped under each model's label, since each family takes its own."""
    per_model = [
        (model_label(model), [(lora.name, lora.description or lora.name) for lora in approved_loras_for(model.family)])
        for model in models
    ]
    if len(per_model) == 1:
        return per_model[0][1]
    return [(label, loras) for label, loras in per_model if loras]


def check_lora(choices: dict[str, Any], model: ModelEntry) -> None:
    """A picked LoRA is approved and made for the chosen model's family, or Refused naming it (it may have been
    disabled since the form was shown, a retry may ask for one that since was, or it is another family's)."""
    name = choices.get("lora") or ""
    if not name:
        return
    try:
        routable_loras([name], model.model_id, model.family)
    except ModelNotRoutable as exc:
        raise Refused(f"This style can't be used right now. {exc.message}", status=400) from None


def check_payable(prompt: str, parameters: dict[str, Any], choices: dict[str, Any], models: dict[str, str]) -> None:
    """Refused when the gateway could never pay for a stage of this GIF (its ticket limit per request)."""
    stages = gif_stages(upscale=bool(choices.get("upscale")), interpolate=bool(choices.get("interpolate")))
    planned = Job(prompt=prompt, stages=stages, parameters={**DEFAULT_PARAMETERS, **parameters, "models": models})
    for stage, model_id, units in billed_units(planned):
        unpayable = payment.unpayable(stage, model_id, units)
        if unpayable:
            raise Refused(f"This GIF can't be made right now: its {stage} stage. {unpayable}", status=402)


def gif_parameters(choices: dict[str, Any], negative_prompt: str) -> dict[str, Any]:
    """What the job is asked to do, from the form's choices."""
    names = ("text_to_image_steps", "image_to_video_steps", "motion_bucket_id", "fps")
    parameters = {name: choices[name] for name in names if name in choices}
    parameters.update({"negative_prompt": negative_prompt, "style": choices["style"]})
    if choices.get("lora"):
        parameters["loras"] = json.dumps({choices["lora"]: LORA_WEIGHT})
    # Choices saved before the aspect ratio existed have no "size": those GIFs were square.
    _, parameters["width"], parameters["height"] = SIZES[choices.get("size") or DEFAULT_SIZE]
    return parameters


def start_generation(
    member: Any, choices: dict[str, Any], *, retry_of: Generation | None = None, now: datetime | None = None
) -> Generation:
    """A queued GIF job for `member` from the form's `choices`; raises Refused when the rules say no."""
    round = current_round(now)
    problems = Limits.of(round).problems(choices)
    if problems:
        raise Refused(" ".join(problems), status=400)
    model = chosen_model(round, choices.get("model") or "")
    # Kept with the choices, so a remix or a retry asks for the model this GIF was made with.
    choices = {**choices, "model": model.model_id}
    models = {PIPELINE: model.model_id}
    check_models_routable(choices, models)
    check_lora(choices, model)
    prompt, negative_prompt = apply_style(choices["prompt"], choices.get("negative_prompt", ""), choices["style"])
    parameters = gif_parameters(choices, negative_prompt)
    check_payable(prompt, parameters, choices, models)
    with transaction.atomic():
        # One member's creations queue on their own row, so two tabs can't both take the last GIF.
        get_user_model().objects.select_for_update().filter(pk=member.pk).first()
        if round is not None and round.generations_left(member) <= 0:
            raise Refused(quota_message(round), status=403)
        job = create_gif_job(
            prompt,
            owner=member,
            seed=choices.get("seed"),
            upscale=bool(choices.get("upscale")),
            interpolate=bool(choices.get("interpolate")),
            parameters=parameters,
            models=models,
        )
        return Generation.objects.create(
            job=job,
            member=member,
            round=round,
            prompt=choices["prompt"],
            style=choices["style"],
            choices=choices,
            retry_of=retry_of,
        )


def retry_generation(job: Job, member: Any, now: datetime | None = None) -> Generation:
    """A new job asking for what a failed or canceled one asked for (in the round on now)."""
    generation = getattr(job, "generation", None)
    if generation is None or generation.member_id != member.pk:
        raise Refused("Only the member who made this GIF can retry it.", status=403)
    if job.status not in {JobStatus.FAILED, JobStatus.CANCELED}:
        raise Refused("Only a failed or canceled job can be retried.", status=409)
    return start_generation(member, generation.choices, retry_of=generation, now=now)
