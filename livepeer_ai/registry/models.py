"""The model registry: which (pipeline, model) may run on the network, and where its weights are.

Curators (staff) decide what is routable: an entry moves pending → approved →
disabled (and back to approved); only approved entries are routed by the gateway
and advertised by orchestrators. Every change is written to `ModelAudit` by the
functions in `registry/curation.py`, the one way entries change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models


class Pipeline(models.TextChoices):
    TEXT_TO_IMAGE = "text-to-image"
    IMAGE_TO_IMAGE = "image-to-image"
    IMAGE_TO_VIDEO = "image-to-video"
    UPSCALE = "upscale"
    FRAME_INTERPOLATION = "frame-interpolation"
    IMAGE_TO_TEXT = "image-to-text"
    AUDIO_TO_TEXT = "audio-to-text"
    LLM = "llm", "LLM"
    TEXT_TO_SPEECH = "text-to-speech"
    SEGMENT_ANYTHING_2 = "segment-anything-2"


class Family(models.TextChoices):
    """How a folder is loaded: decides the diffusers class and model quirks."""

    SD15 = "sd15", "Stable Diffusion 1.x"
    SDXL = "sdxl", "Stable Diffusion XL"
    # Turbo and Lightning distillations run without classifier-free guidance
    # (docs/protocol.md §1.4: the runner forces guidance_scale=0 for them).
    SDXL_TURBO = "sdxl-turbo", "SDXL Turbo / Lightning"
    SVD = "svd", "Stable Video Diffusion"
    SD_X4_UPSCALER = "sd-x4-upscaler", "SD x4 upscaler"
    OPTICAL_FLOW = "optical-flow", "OpenCV optical flow (no weights)"
    TORCHSCRIPT_INTERPOLATOR = "torchscript-interpolator", "Learned interpolator (TorchScript)"
    BLIP = "blip", "BLIP image captioning"
    WHISPER = "whisper", "Whisper speech recognition"
    LLAMA = "llama", "Llama chat model (causal LM)"
    VITS = "vits", "VITS speech synthesis (MMS-TTS)"
    SAM2 = "sam2", "Segment Anything 2 (images and video)"


class EntryStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    DISABLED = "disabled", "Disabled"


class NsfwLevel(models.TextChoices):
    """What a model may produce unprompted (Civitai's nsfwLevel and HF's not-for-all-audiences, simplified)."""

    SAFE = "safe", "Safe for all audiences"
    MATURE = "mature", "May produce mature content"
    EXPLICIT = "explicit", "Made for explicit content"


class ModelEntry(models.Model):
    """A model a runner may load, and the local folder or file its weights live in.

    A tiny random-weight build and a real checkpoint look the same here: point
    `local_path` at a diffusers folder (or a TorchScript file) and the runner loads
    it offline.
    """

    pipeline = models.CharField(max_length=32, choices=Pipeline.choices)
    model_id = models.CharField(max_length=200)
    family = models.CharField(max_length=32, choices=Family.choices)
    # The upstream revision (e.g. a Hugging Face commit) the weights were taken from.
    pinned_revision = models.CharField(max_length=100, blank=True)
    local_path = models.CharField(max_length=500, blank=True)
    licence = models.CharField(max_length=100, blank=True)
    commercial_use = models.BooleanField(default=False, help_text="The licence allows commercial use of outputs.")
    nsfw_level = models.CharField(max_length=16, choices=NsfwLevel.choices, default=NsfwLevel.SAFE)
    # Largest width or height (pixels) a request may ask of this model, and the
    # largest input image side it accepts.
    max_side = models.PositiveIntegerField(default=1024)
    # Device memory one runner of this model needs, in MiB (its minimum VRAM); an
    # orchestrator places no more runners on a device than its memory budget holds
    # (0 = not counted).
    memory_mb = models.PositiveIntegerField(default=0, verbose_name="minimum VRAM (MiB)")
    default_parameters = models.JSONField(default=dict, blank=True)
    runner_version = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=EntryStatus.choices, default=EntryStatus.PENDING)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposed_models"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "model_id"], name="unique_pipeline_model"),
        ]
        indexes = [models.Index(fields=["status", "pipeline"])]
        ordering = ["pipeline", "model_id"]
        verbose_name_plural = "model entries"

    def __str__(self) -> str:
        return f"{self.pipeline}: {self.model_id}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("registry:model-detail", args=[self.pk])

    @property
    def is_approved(self) -> bool:
        return self.status == EntryStatus.APPROVED

    def spec(self) -> dict[str, Any]:
        """What a runner needs to load this entry, without touching the DB again."""
        return {
            "pipeline": self.pipeline,
            "model_id": self.model_id,
            "family": self.family,
            "local_path": str(Path(self.local_path)) if self.local_path else "",
            "max_side": self.max_side,
            "memory_mb": self.memory_mb,
            "default_parameters": dict(self.default_parameters),
        }


class AuditAction(models.TextChoices):
    CREATED = "created", "Created"
    PROPOSED = "proposed", "Proposed"
    EDITED = "edited", "Edited"
    STATUS = "status", "Status changed"


class Audit(models.Model):
    """One change to a registry entry (ModelAudit, LoraAudit): what (old → new per field), why and when;
    who and which entry are each subclass's own foreign keys."""

    entry: Any
    actor: Any
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    # {"field": [old, new], …}; a creation lists every field as [null, value].
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["entry", "at"])]

    def __str__(self) -> str:
        return f"{self.entry} {self.action} by {self.actor or 'system'} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def actor_name(self) -> str:
        return self.actor.get_username() if self.actor is not None else "system"


class ModelAudit(Audit):
    """One change to a model entry."""

    entry = models.ForeignKey(ModelEntry, on_delete=models.PROTECT, related_name="audit")
    # Null: a command or migration acting for the network (e.g. build_tiny_models).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_audits"
    )


class LoraBase(models.TextChoices):
    """The base architecture a LoRA was trained on: it applies to every model family built on it."""

    SD15 = "sd15", "Stable Diffusion 1.x"
    SDXL = "sdxl", "Stable Diffusion XL"


# Model family → the LoRA base its models take. SDXL Turbo and Lightning are SDXL's UNet
# distilled: SDXL LoRAs load into them (most are made for the base model and still apply).
LORA_BASE_OF_FAMILY: dict[str, str] = {
    Family.SD15: LoraBase.SD15,
    Family.SDXL: LoraBase.SDXL,
    Family.SDXL_TURBO: LoraBase.SDXL,
}
# The pipelines whose requests may name LoRAs (the runner API's `loras` field).
LORA_PIPELINES = (Pipeline.TEXT_TO_IMAGE, Pipeline.IMAGE_TO_IMAGE)


class LoraEntry(models.Model):
    """A LoRA adapter runners may apply on top of a model of its base, and its local `.safetensors` file.

    Curated like a model (pending → approved → disabled, every change in `LoraAudit`);
    callers name it in a request's `loras` field by `name`, as Livepeer's callers name
    a Hugging Face repo (`{"nerijs/pixel-art-xl": 1.2}`).
    """

    name = models.CharField(max_length=200, unique=True)
    base = models.CharField(max_length=16, choices=LoraBase.choices, verbose_name="base model")
    # A diffusers/kohya LoRA file; a runner loads it with diffusers' `load_lora_weights`.
    local_path = models.CharField(max_length=500)
    # What the studio's style picker shows; trigger words belong here too.
    description = models.CharField(max_length=300, blank=True)
    pinned_revision = models.CharField(max_length=100, blank=True)
    licence = models.CharField(max_length=100, blank=True)
    commercial_use = models.BooleanField(default=False, help_text="The licence allows commercial use of outputs.")
    nsfw_level = models.CharField(max_length=16, choices=NsfwLevel.choices, default=NsfwLevel.SAFE)
    status = models.CharField(max_length=16, choices=EntryStatus.choices, default=EntryStatus.PENDING)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposed_loras"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "base"])]
        ordering = ["base", "name"]
        verbose_name = "LoRA"
        verbose_name_plural = "LoRAs"

    def __str__(self) -> str:
        return f"LoRA {self.name}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("registry:lora-detail", args=[self.pk])

    @property
    def is_approved(self) -> bool:
        return self.status == EntryStatus.APPROVED

    def applies_to(self, family: str) -> bool:
        return LORA_BASE_OF_FAMILY.get(family) == self.base


class LoraAudit(Audit):
    """One change to a LoRA entry."""

    entry = models.ForeignKey(LoraEntry, on_delete=models.PROTECT, related_name="audit")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="lora_audits"
    )
