from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q

from livepeer_ai.gateway.workflow import DEFAULT_PARAMETERS
from livepeer_ai.registry.models import EntryStatus, ModelEntry
from studio import image_models, my_gifs
from studio.creation import DEFAULT_SIZE, FPS_RANGE, MOTION_RANGE, SEED_MAX, SIZES, Limits, lora_choices
from studio.image_models import model_label
from studio.models import ReportReason, Round
from studio.presets import STYLE_PRESETS


class PromptForm(forms.Form):
    """What a member asks for; bounds follow the current round's rules (creation.Limits)."""

    prompt = forms.CharField(
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "a pixel art robot dancing in the rain"}),
    )
    negative_prompt = forms.CharField(
        max_length=500,
        required=False,
        strip=True,
        label="Negative prompt",
        help_text="What the picture should not have, e.g. “blurry, text, watermark”.",
    )
    style = forms.ChoiceField(
        choices=[(p.key, p.label) for p in STYLE_PRESETS.values()],
        required=False,
        initial="",
        help_text="Adds a few words to the prompt and the negative prompt.",
    )
    # Any text: a model the round does not offer is refused with the reason by creation.start_generation,
    # in the form's refusal area, not as "Select a valid choice".
    model = forms.CharField(
        required=False,
        label="Model",
        widget=forms.Select,
        help_text="The text-to-image model that draws the first frame; the video is made from that frame.",
    )
    lora = forms.ChoiceField(
        required=False,
        initial="",
        label="LoRA style",
        help_text="A fine-tuned style the network's curators approved, applied to the first frame.",
    )
    size = forms.ChoiceField(
        choices=[(key, f"{label} ({width}×{height})") for key, (label, width, height) in SIZES.items()],
        required=False,
        initial=DEFAULT_SIZE,
        label="Aspect ratio",
        help_text="The finished GIF's shape; more pixels take a little longer.",
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=SEED_MAX,
        help_text="Leave empty for a random seed. The same seed and settings ask for the same GIF.",
    )
    text_to_image_steps = forms.IntegerField(
        required=False,
        label="Image steps",
        min_value=1,
        initial=DEFAULT_PARAMETERS["text_to_image_steps"],
        help_text="Denoising steps for the first frame.",
    )
    image_to_video_steps = forms.IntegerField(
        required=False,
        label="Video steps",
        min_value=1,
        initial=DEFAULT_PARAMETERS["image_to_video_steps"],
        help_text="Denoising steps for the animation.",
    )
    motion_bucket_id = forms.IntegerField(
        required=False,
        label="Motion amount",
        min_value=MOTION_RANGE[0],
        max_value=MOTION_RANGE[1],
        initial=DEFAULT_PARAMETERS["motion_bucket_id"],
        help_text="Higher moves more (image-to-video's motion_bucket_id; 127 by default).",
    )
    fps = forms.IntegerField(
        required=False,
        label="Frames per second",
        min_value=FPS_RANGE[0],
        max_value=FPS_RANGE[1],
        initial=DEFAULT_PARAMETERS["fps"],
        help_text="Playback speed of the GIF (6 by default).",
    )
    upscale = forms.BooleanField(
        required=False,
        label="Upscale ×4",
        help_text=(
            "The GIF keeps the size you chose: its first frame and video are made at a quarter of each side, "
            "then every frame is upscaled ×4 by another model. Finer detail with real models; slower."
        ),
    )
    interpolate = forms.BooleanField(
        required=False,
        label="Smooth motion",
        help_text="Frame interpolation: twice the frames at twice the frame rate.",
    )

    ADVANCED = ("seed", "text_to_image_steps", "image_to_video_steps", "motion_bucket_id", "fps")

    def __init__(
        self, *args: Any, limits: Limits | None = None, models: list[ModelEntry] | None = None, **kwargs: Any
    ) -> None:
        """`models`: the text-to-image models on offer (image_models.offered_models), the default first."""
        super().__init__(*args, **kwargs)
        self.limits = limits or Limits()
        models = models or []
        self.offers_model_choice = len(models) > 1
        self.fields["model"].widget.choices = [(model.model_id, model_label(model)) for model in models]
        self.fields["model"].initial = models[0].model_id if models else ""
        self.fields["lora"].choices = [("", "None"), *lora_choices(models)]  # type: ignore[attr-defined]
        if self.offers_model_choice:
            self.fields["lora"].help_text += " Each model takes the LoRAs listed under it."
        for name, most in (
            ("text_to_image_steps", self.limits.max_text_to_image_steps),
            ("image_to_video_steps", self.limits.max_image_to_video_steps),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.IntegerField)
            field.max_value = most
            field.validators.append(MaxValueValidator(most))
            field.widget.attrs["max"] = most
            field.initial = min(field.initial, most)
            field.help_text = f"{field.help_text} At most {most}."
        for name, allowed in (("upscale", self.limits.allow_upscale), ("interpolate", self.limits.allow_interpolation)):
            if not allowed:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Not allowed by this round's rules."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("size") and "size" not in self.errors:
            cleaned["size"] = DEFAULT_SIZE
        # Left empty (or not sent at all): the studio's default, as the runner API does for a missing field.
        for name in ("text_to_image_steps", "image_to_video_steps", "motion_bucket_id", "fps"):
            if cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = self.fields[name].initial
        return cleaned

    def advanced_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.ADVANCED]

    def choices(self) -> dict[str, Any]:
        """The cleaned choices, JSON-ready, as creation.start_generation takes them."""
        return {name: self.cleaned_data[name] for name in self.fields}


class MyGifsFilter(forms.Form):
    """The My GIFs page's filters, from the query string; a value it doesn't know is an error, not a 500."""

    round = forms.ChoiceField(required=False, label="Round")
    status = forms.ChoiceField(
        required=False,
        label="Status",
        choices=[("", "Any status"), *((key, label) for key, (label, _) in my_gifs.STATUSES.items())],
    )

    def __init__(self, *args: Any, rounds: list[Round], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Any round"), *((r.slug, r.title) for r in rounds), (my_gifs.NO_ROUND, "Outside any round")]
        self.fields["round"].choices = choices  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        """The valid filters (an unknown value filters nothing, and the form says so)."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in ("round", "status")}


def _to_the_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


WINDOWS = ("prompt_opens_at", "prompt_closes_at", "voting_opens_at", "voting_closes_at")


class RoundForm(forms.ModelForm):
    """Staff set a round up and change it here; Round.clean keeps the windows in order."""

    class Meta:
        model = Round
        fields = [
            "title",
            "slug",
            "theme",
            "description",
            *WINDOWS,
            "allow_upscale",
            "allow_interpolation",
            "max_text_to_image_steps",
            "max_image_to_video_steps",
            "text_to_image_models",
            "generations_per_member",
            "entries_per_member",
            "winners_count",
        ]
        widgets = {
            **{
                name: forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M") for name in WINDOWS
            },
            "text_to_image_models": forms.CheckboxSelectMultiple,
        }
        help_texts = {"slug": "The round's address: /rounds/<slug>/. Letters, digits and hyphens."}
        labels = {
            "prompt_opens_at": "GIF window opens (UTC)",
            "prompt_closes_at": "GIF window closes (UTC)",
            "voting_opens_at": "Voting opens (UTC)",
            "voting_closes_at": "Voting closes (UTC)",
            "allow_upscale": "Allow “Upscale ×4”",
            "allow_interpolation": "Allow “Smooth motion”",
            "max_text_to_image_steps": "Most image steps",
            "max_image_to_video_steps": "Most video steps",
            "text_to_image_models": "Models for the first frame",
            "generations_per_member": "GIFs per member",
            "winners_count": "Winners",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("max_text_to_image_steps", "max_image_to_video_steps"):
            self.fields[name].validators.append(MinValueValidator(1))
        self.fields["winners_count"].validators.append(MinValueValidator(1))
        models = self.fields["text_to_image_models"]
        assert isinstance(models, forms.ModelMultipleChoiceField)
        # The approved ones, and any this round lists that the curators have disabled since (so saving the
        # round's other fields does not drop them unseen; members are offered only approved ones).
        listed = self.instance.text_to_image_models.all() if self.instance.pk else ModelEntry.objects.none()
        models.queryset = ModelEntry.objects.filter(
            Q(pipeline=image_models.PIPELINE, status=EntryStatus.APPROVED) | Q(pk__in=listed)
        ).order_by("model_id")
        models.label_from_instance = image_models.model_label  # type: ignore[method-assign,assignment]
        models.help_text = (
            f"Members pick one of these when there is more than one. None ticked: the studio's default, "
            f"{image_models.default_model_id()}."
        )
        if self.instance.pk is None and not self.initial.get("text_to_image_models"):
            # A new round offers what rounds did before they listed models: the default.
            self.initial["text_to_image_models"] = list(
                models.queryset.filter(model_id=image_models.default_model_id())
            )

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"]
        if slug == "new":
            raise forms.ValidationError("“new” is the address of this form; choose another.")
        return slug

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The form shows minutes: a time left as it was keeps its seconds, and counts as not moved.
        moved = []
        for name in WINDOWS:
            before, after = getattr(self.instance, name), cleaned.get(name)
            if before is not None and after is not None and _to_the_minute(after) == _to_the_minute(before):
                cleaned[name] = before
                setattr(self.instance, name, before)
            elif after is not None:
                moved.append(name)
        if self.instance.closed_at and moved:
            for name in moved:
                self.add_error(name, "This round has closed and its winners are picked: its windows stay as they were.")
        return cleaned


class SignupForm(UserCreationForm):
    email = forms.EmailField(help_text="Only for resetting your password; never shown.")

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]  # django-stubs declares no Meta on it
        fields = ("username", "email")


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=ReportReason.choices, widget=forms.RadioSelect)
    details = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class AltTextForm(forms.Form):
    """What screen readers say for a GIF, in its maker's words (studio/alt_text.py cleans it)."""

    alt_text = forms.CharField(
        required=False,
        max_length=300,
        label="Describe the GIF for people who cannot see it",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def first_error(self) -> str:
        return next(str(message) for errors in self.errors.values() for message in errors)
