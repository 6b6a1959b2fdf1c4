"""The competition: rounds with a theme and windows, the GIFs members make in them, entries, votes, reports.

Jobs themselves live in the gateway (`gateway.models.Job`); a `Generation` ties one
to the member and the round it was made in, which is what quotas count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.queue import stage_model


class RoundQuerySet(models.QuerySet["Round"]):
    def taking_prompts(self, now: datetime | None = None) -> RoundQuerySet:
        now = now or timezone.now()
        return self.filter(prompt_opens_at__lte=now, prompt_closes_at__gt=now)

    def voting(self, now: datetime | None = None) -> RoundQuerySet:
        now = now or timezone.now()
        return self.filter(voting_opens_at__lte=now, voting_closes_at__gt=now)

    def over(self, now: datetime | None = None) -> RoundQuerySet:
        return self.filter(voting_closes_at__lte=now or timezone.now())

    def not_over(self, now: datetime | None = None) -> RoundQuerySet:
        return self.filter(voting_closes_at__gt=now or timezone.now())

    def with_winners(self) -> RoundQuerySet:
        """Each round's `winning_entries` (as `Round.winners`), for all the rounds listed in one query."""
        winners = models.Prefetch("entries", queryset=Entry.objects.winners(), to_attr="winning_entries")
        return self.prefetch_related(winners)


class Round(models.Model):
    """A competition round: a theme, a window for making and entering GIFs, a window for votes, rules.

    Its state comes from the clock; `closed_at` and the entries' places are set
    once, by `rounds.close_round`, after the voting window ends.
    """

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=120)
    theme = models.CharField(max_length=200, help_text="What entries should show, in one line.")
    description = models.TextField(blank=True)
    prompt_opens_at = models.DateTimeField(help_text="Members may make GIFs and enter them from …")
    prompt_closes_at = models.DateTimeField(help_text="… until.")
    voting_opens_at = models.DateTimeField(help_text="Members may vote from …")
    voting_closes_at = models.DateTimeField(help_text="… until; then the winners are picked.")
    # Rules: which optional stages of the chain are allowed, and the limits.
    allow_upscale = models.BooleanField(default=True)
    allow_interpolation = models.BooleanField(default=True)
    # Ceilings default to the runner API's own defaults (docs/protocol.md §1.2: 50 and 25).
    max_text_to_image_steps = models.PositiveSmallIntegerField(default=50)
    max_image_to_video_steps = models.PositiveSmallIntegerField(default=25)
    generations_per_member = models.PositiveSmallIntegerField(
        default=10, help_text="GIFs each member may make in this round (failed jobs don't count)."
    )
    # The first frame's models members may pick from (studio/image_models.py); none: the studio's default.
    text_to_image_models = models.ManyToManyField(
        "registry.ModelEntry",
        blank=True,
        related_name="rounds",
        limit_choices_to={"pipeline": "text-to-image"},
        verbose_name="text-to-image models",
        help_text="The models members may draw the first frame with. None ticked: the studio's default model.",
    )
    entries_per_member = models.PositiveSmallIntegerField(default=3)
    winners_count = models.PositiveSmallIntegerField(default=3)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RoundQuerySet.as_manager()

    class Meta:
        ordering = ["-voting_closes_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("studio-round", args=[self.slug])

    def clean(self) -> None:
        errors = {}
        if self.prompt_opens_at and self.prompt_closes_at and self.prompt_closes_at <= self.prompt_opens_at:
            errors["prompt_closes_at"] = "The prompt window must close after it opens."
        if self.voting_opens_at and self.voting_closes_at and self.voting_closes_at <= self.voting_opens_at:
            errors["voting_closes_at"] = "The voting window must close after it opens."
        if self.prompt_opens_at and self.voting_opens_at and self.voting_opens_at < self.prompt_opens_at:
            errors["voting_opens_at"] = "Voting cannot open before the prompt window does."
        if self.prompt_closes_at and self.voting_closes_at and self.voting_closes_at < self.prompt_closes_at:
            errors["voting_closes_at"] = "Voting must stay open until entries close."
        if errors:
            raise ValidationError(errors)

    def takes_prompts(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.prompt_opens_at <= now < self.prompt_closes_at

    def takes_votes(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.voting_opens_at <= now < self.voting_closes_at

    def is_over(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.voting_closes_at

    def phase(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if self.is_over(now):
            return "closed"
        if self.takes_prompts(now) and self.takes_votes(now):
            return "open for GIFs and votes"
        if self.takes_prompts(now):
            return "open for GIFs"
        if self.takes_votes(now):
            return "voting"
        return "between windows" if now >= self.prompt_opens_at else "upcoming"

    def generations_used(self, member: Any) -> int:
        """A failed job, or one canceled before its first frame was made, gives its GIF back."""
        given_back = Q(job__status=JobStatus.FAILED) | Q(job__status=JobStatus.CANCELED, job__stage_index=0)
        return self.generations.filter(member=member).exclude(given_back).count()

    def generations_left(self, member: Any) -> int:
        return max(self.generations_per_member - self.generations_used(member), 0)

    def winners(self) -> EntryQuerySet:
        return self.entries.winners()

    def leading_entries(self, count: int) -> EntryQuerySet:
        """The round's best public entries so far, as the leaderboard ranks them."""
        return self.entries.public().select_related("round", "job__generation", "author").ranked()[:count]


class Generation(models.Model):
    """A GIF job a member started in the studio: what they asked for, in which round."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="generation")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations")
    prompt = models.TextField(help_text="As the member typed it; the job's prompt adds the style's words.")
    style = models.CharField(max_length=32, blank=True)
    # The form's choices, so a retry asks for exactly the same thing.
    choices = models.JSONField(default=dict)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    created_at = models.DateTimeField(default=timezone.now)
    # The GIF's alternative text, written by the network's image-to-text from its first frame
    # (studio/alt_text.py); empty until that job succeeds, and for good if it fails.
    caption_job = models.OneToOneField(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="captioned_generation", editable=False
    )
    alt_text = models.CharField(max_length=300, blank=True, help_text="Read by screen readers as the GIF's text.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["round", "member"])]

    def __str__(self) -> str:
        return f"{self.member} · {self.prompt[:40]}"

    @property
    def gif_alt(self) -> str:
        return self.alt_text or fallback_alt(self.prompt)

    @property
    def image_model(self) -> str:
        """The text-to-image model that draws (or drew) the GIF's first frame."""
        return stage_model(self.job, "text-to-image")

    @property
    def image_model_name(self) -> str:
        """The model's name without its publisher ("tiny-sd15"), where space is short."""
        return self.image_model.rpartition("/")[2]


def fallback_alt(prompt: str) -> str:
    """The GIF's alt text while (or if) no caption is there: what it was asked to show."""
    return f"Generated GIF for: {Truncator(prompt).chars(200)}"


class Safety(models.TextChoices):
    CLEAN = "clean", "checked, not flagged"
    FLAGGED = "flagged", "flagged NSFW"
    UNCHECKED = "unchecked", "not checked (no safety checker configured)"


class EntryQuerySet(models.QuerySet["Entry"]):
    def public(self) -> EntryQuerySet:
        """What anyone may see: not hidden, and checked clean or approved by a moderator."""
        return self.filter(hidden=False).filter(Q(safety=Safety.CLEAN) | Q(approved_at__isnull=False))

    def awaiting_review(self) -> EntryQuerySet:
        return self.filter(hidden=False, approved_at__isnull=True).exclude(safety=Safety.CLEAN)

    def winners(self) -> EntryQuerySet:
        """The public entries given a place when their round closed, first place first."""
        return (
            self.public()
            .filter(place__isnull=False)
            .select_related("round", "job__generation", "author")
            .order_by("place")
        )

    def ranked(self) -> EntryQuerySet:
        # Ties go to the earlier entry, on every page and when winners are picked.
        return self.order_by("-vote_count", "created_at", "id")


class Entry(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="entries")
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="entry")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entries")
    created_at = models.DateTimeField(default=timezone.now)
    # Kept in step with the Vote rows inside the same transaction (voting.cast_vote).
    vote_count = models.PositiveIntegerField(default=0)
    safety = models.CharField(max_length=16, choices=Safety.choices, default=Safety.UNCHECKED)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    place = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 = winner, set when the round closes.")

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["round", "-vote_count", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("studio-entry", args=[self.pk])

    @property
    def prompt(self) -> str:
        generation = getattr(self.job, "generation", None)
        return generation.prompt if generation is not None else self.job.prompt

    @property
    def is_public(self) -> bool:
        return not self.hidden and (self.safety == Safety.CLEAN or self.approved_at is not None)

    def visible_to(self, user: Any) -> bool:
        return self.is_public or user.is_staff or self.author_id == user.pk

    @property
    def gif_alt(self) -> str:
        generation = getattr(self.job, "generation", None)
        return generation.gif_alt if generation is not None else fallback_alt(self.job.prompt)

    @property
    def gif_url(self) -> str:
        return self.job.final_output_url("gif")

    @property
    def mp4_url(self) -> str:
        return self.job.final_output_url("mp4")


class Vote(models.Model):
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "voter"], name="one_vote_per_member_per_entry")]

    def __str__(self) -> str:
        return f"{self.voter} → {self.entry_id}"


class ReportReason(models.TextChoices):
    NSFW = "nsfw", "Sexual or violent content"
    HATEFUL = "hateful", "Hateful or harassing"
    THEME = "off_theme", "Off theme or spam"
    RIGHTS = "rights", "Copies someone else's work"
    OTHER = "other", "Something else"


class Report(models.Model):
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    details = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=16, blank=True)  # "hidden" or "dismissed"

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["entry", "reporter"], name="one_report_per_member_per_entry")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on #{self.entry_id}"


class NotificationKind(models.TextChoices):
    APPROVED = "approved", "approved"
    HIDDEN = "hidden", "hidden"
    SHOWN = "shown", "shown again"


class Notification(models.Model):
    """Something a moderator did to a member's entry, said to the member on the site (studio/notifications.py)."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every page a member opens counts their unread ones.
        indexes = [models.Index(fields=["member", "read_at"])]

    def __str__(self) -> str:
        return f"{self.member} · entry {self.entry_id} {self.kind}"

    @property
    def message(self) -> str:
        prompt = f"“{Truncator(self.entry.prompt).chars(60)}”"
        if self.kind == NotificationKind.APPROVED:
            return f"A moderator approved your entry {prompt}: it is in the gallery now, and you can share it."
        if self.kind == NotificationKind.HIDDEN:
            return f"A moderator hid your entry {prompt}: only you and the moderators can see it."
        return f"A moderator stopped hiding your entry {prompt}."
