from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from studio import moderation
from studio.models import Entry, Generation, Report, Round, Vote


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "theme", "phase_now", "prompt_closes_at", "voting_closes_at", "closed_at"]
    search_fields = ["title", "theme", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["closed_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "theme", "description"]}),
        ("Windows", {"fields": ["prompt_opens_at", "prompt_closes_at", "voting_opens_at", "voting_closes_at"]}),
        (
            "Rules",
            {
                "fields": [
                    "allow_upscale",
                    "allow_interpolation",
                    "max_text_to_image_steps",
                    "max_image_to_video_steps",
                    "text_to_image_models",
                    "generations_per_member",
                    "entries_per_member",
                    "winners_count",
                ]
            },
        ),
        ("Result", {"fields": ["closed_at"]}),
    ]

    @admin.display(description="phase")
    def phase_now(self, round: Round) -> str:
        return round.phase()

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "text_to_image_models":
            # A handful of models, each a box to tick (as on the site's round page).
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ["id", "prompt_short", "round", "author", "vote_count", "safety", "approved_at", "hidden", "place"]
    list_filter = ["round", "safety", "hidden", ("approved_at", admin.EmptyFieldListFilter)]
    # The prompt column reads the job's Generation: fetched with the rows, not once per row.
    list_select_related = ["round", "author", "job__generation"]
    search_fields = ["job__prompt", "author__username"]
    raw_id_fields = ["job", "author", "approved_by", "hidden_by"]
    readonly_fields = ["vote_count", "place"]
    actions = ["approve_entries", "hide_entries", "unhide_entries"]

    @admin.display(description="prompt")
    def prompt_short(self, entry: Entry) -> str:
        return entry.prompt[:60]

    def _each(self, request: HttpRequest, queryset: QuerySet[Entry], action: Any) -> None:
        for entry in queryset:
            action(entry, request.user)

    @admin.action(description="Approve for the public gallery")
    def approve_entries(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        self._each(request, queryset, moderation.approve)

    @admin.action(description="Hide")
    def hide_entries(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        self._each(request, queryset, moderation.hide)

    @admin.action(description="Unhide")
    def unhide_entries(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        self._each(request, queryset, moderation.unhide)


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["entry", "voter", "created_at"]
    list_filter = ["entry__round"]
    list_select_related = ["entry__job__generation", "voter"]
    raw_id_fields = ["entry", "voter"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Counts are kept with the rows by voting.cast_vote; editing a vote here would split them.
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["entry", "reason", "reporter", "created_at", "resolved_at", "resolution"]
    list_filter = ["reason", "resolution", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["entry__job__generation", "reporter"]
    raw_id_fields = ["entry", "reporter", "resolved_by"]


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["job", "member", "round", "prompt", "style", "created_at"]
    list_filter = ["round", "style"]
    list_select_related = ["job", "member", "round"]
    search_fields = ["prompt", "member__username"]
    raw_id_fields = ["job", "member", "retry_of"]
