"""What the job page shows: each stage's preview, model, orchestrator and receipts; failures in plain words.

Who sees it: the page and its WebSocket both open a job through `studio_job` and
render it through `describe_job`, so they show a viewer the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth.models import AnonymousUser

from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, Receipt
from livepeer_ai.gateway.workflow import generation_size
from studio.entries import job_safety
from studio.models import Entry, Generation, Safety, fallback_alt
from studio.presets import STYLE_PRESETS
from studio.progress import STAGE_LABELS, JobProgress, job_progress

# error_code → what happened, for people; the gateway's message stays beside it as detail.
FAILURES = {
    "runner_400": "The network refused these settings. Try other options (a different size or fewer steps).",
    "runner_402": "The gateway could not pay the orchestrator for this stage.",
    "runner_409": "The orchestrator stopped the job before it finished.",
    "runner_413": "The picture handed between stages was too big for the orchestrator.",
    "runner_415": "The orchestrator could not read the picture handed between stages.",
    "runner_422": "The network refused these settings. Try other options.",
    "runner_500": "The GPU node hit an error while generating (for example it ran out of memory).",
    "runner_502": (
        "The orchestrators that tried this stage could not be reached, or sent back a result they could not "
        "prove was theirs, so nothing of it was used."
    ),
    "runner_503": (
        "Every orchestrator that runs this stage stayed busy or kept failing for as long as a job may wait. "
        "Try again in a few minutes."
    ),
    "runner_504": "The orchestrator took too long to answer, so the gateway gave up on it.",
    "internal_error": "Something went wrong inside the gateway itself; it has been logged.",
}


def plain_failure(job: Job) -> str:
    return FAILURES.get(job.error_code, "The job could not be finished.")


@dataclass
class StageView:
    name: str
    label: str
    done: bool
    running: bool
    preview_url: str = ""  # the first frame's image, or the stage's GIF
    model_id: str = ""
    # (address, service URI) of each orchestrator whose work made it in.
    orchestrators: list[tuple[str, str]] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)


@dataclass
class JobView:
    job: Job
    generation: Generation | None
    entry: Entry | None
    stages: list[StageView]
    can_manage: bool  # the owner: cancel, retry, enter
    can_enter: bool
    # Why the GIF, previews and receipts are not shown to this viewer; empty when they are.
    withheld_notice: str = ""

    @property
    def media_withheld(self) -> bool:
        return bool(self.withheld_notice)

    @cached_property
    def progress(self) -> JobProgress:
        return job_progress(self.job)

    @property
    def failure(self) -> str:
        return plain_failure(self.job) if self.job.status == JobStatus.FAILED else ""

    @property
    def gif_alt(self) -> str:
        return self.generation.gif_alt if self.generation is not None else fallback_alt(self.job.prompt)

    @property
    def style_label(self) -> str:
        preset = STYLE_PRESETS.get(self.job.parameters.get("style", ""))
        return preset.label if preset and preset.key else ""

    @property
    def upscaled_from(self) -> str:
        """The size the first frame and the video were made at ("96×64") when "Upscale ×4" made the GIF, else ""."""
        if "upscale" not in self.job.stages:
            return ""
        width, height = generation_size(self.job)
        return f"{width}×{height}"

    @property
    def seed(self) -> Any:
        return self.job.outputs.get("text-to-image", {}).get("seed", self.job.parameters.get("seed"))


def sees_everything(job: Job, user: Any) -> bool:
    """The maker and moderators see a job whatever the safety checker or a moderator decided."""
    return bool(user.is_staff or (user.is_authenticated and job.owner_id == user.pk))


def studio_job(job_id: Any, user: Any) -> Job | None:
    """The studio job with this id as `user` may open it, else None.

    A studio job is one with a Generation: an API job has none, even once its key is
    deleted (the key is SET_NULL). A job whose entry a moderator hid is gone, prompt
    and all, for anyone but its maker and moderators, as the entry page is.
    """
    job = Job.objects.filter(id=job_id, generation__isnull=False).select_related("entry").first()
    if job is None:
        return None
    entry = getattr(job, "entry", None)
    if entry is not None and entry.hidden and not sees_everything(job, user):
        return None
    return job


def withheld_notice(job: Job, entry: Entry | None, user: Any) -> str:
    """Why this viewer may not see the job's media, or "" when they may."""
    if sees_everything(job, user):
        return ""
    if any(job.outputs.get(stage, {}).get("nsfw") for stage in job.stages):
        return "The safety checker flagged this GIF, so only its maker and moderators can see it."
    if entry is not None and entry.hidden:
        return "A moderator hid this GIF, so only its maker and moderators can see it."
    if entry is not None and not entry.is_public:
        return "This GIF waits for a moderator's review, so only its maker and moderators can see it for now."
    if entry is None and job_safety(job) != Safety.CLEAN:
        return "The safety checker has not passed this GIF, so only its maker and moderators can see it."
    return ""


def public_media(job: Job) -> bool:
    """Whether anyone at all may see the job's files: a studio job's, when no rule withholds them."""
    if not Generation.objects.filter(job=job).exists():
        return False  # an API job: its files go to its key holder, through signed links
    entry = Entry.objects.filter(job=job).first()
    return not withheld_notice(job, entry, AnonymousUser())


def describe_job(job: Job, user: Any) -> JobView:
    generation = Generation.objects.filter(job=job).select_related("round").first()
    entry = Entry.objects.filter(job=job).first()
    attempts = job.attempts.filter(outcome=AttemptOutcome.SUCCEEDED).select_related("orchestrator")
    receipts = [r for r in job.receipts.all() if r.path]
    stages = []
    for index, name in enumerate(job.stages):
        output = job.outputs.get(name, {})
        done = bool(output.get("gif") or output.get("image")) and (index < job.stage_index or job.is_finished)
        stage_attempts = [a for a in attempts if a.stage == name]
        orchestrators = []
        for attempt in stage_attempts:
            node = attempt.orchestrator
            place = (node.address, node.service_uri) if node else ("", "fallback provider")
            if place not in orchestrators:
                orchestrators.append(place)
        stages.append(
            StageView(
                name=name,
                label=STAGE_LABELS.get(name, name),
                done=done,
                running=job.status == JobStatus.RUNNING and index == job.stage_index,
                preview_url=job.output_url(name, "image") or job.output_url(name, "gif"),
                model_id=stage_attempts[0].model_id if stage_attempts else "",
                orchestrators=orchestrators,
                receipts=[r for r in receipts if r.stage == name],
            )
        )
    is_owner = user.is_authenticated and job.owner_id == user.pk
    round = generation.round if generation else None
    return JobView(
        job=job,
        generation=generation,
        entry=entry,
        stages=stages,
        can_manage=is_owner,
        can_enter=(
            is_owner
            and entry is None
            and job.status == JobStatus.SUCCEEDED
            and round is not None
            and round.takes_prompts()
        ),
        withheld_notice=withheld_notice(job, entry, user),
    )
