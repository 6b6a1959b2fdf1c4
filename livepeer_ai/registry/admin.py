"""The registry in the Django admin: every save and action goes through `registry.curation`,
so the audit trail is the same whichever door a change came through."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from livepeer_ai.registry import curation
from livepeer_ai.registry.models import EntryStatus, ModelAudit, ModelEntry


class ModelEntryAdminForm(forms.ModelForm):
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Why: kept in the audit trail."
    )

    class Meta:
        model = ModelEntry
        fields = ["pipeline", "model_id", *curation.EDITABLE_FIELDS]


class ModelAuditInline(admin.TabularInline):
    model = ModelAudit
    extra = 0
    fields = ("at", "actor", "action", "changes", "note")
    readonly_fields = fields
    can_delete = False
    ordering = ["-at", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelAudit]:
        # Each row shows its actor and (as its title) its entry: joined, not one query per row.
        return super().get_queryset(request).select_related("entry", "actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    form = ModelEntryAdminForm
    list_display = ["model_id", "pipeline", "status", "family", "licence", "commercial_use", "nsfw_level", "memory_mb"]
    list_filter = ["status", "pipeline", "family", "commercial_use", "nsfw_level"]
    search_fields = ["model_id", "local_path", "licence"]
    list_select_related = ["proposed_by"]
    inlines = [ModelAuditInline]
    actions = ["approve_selected", "disable_selected"]

    def get_fields(self, request: HttpRequest, obj: ModelEntry | None = None) -> list[str]:  # type: ignore[override]
        return ["pipeline", "model_id", "status", "proposed_by", *curation.EDITABLE_FIELDS, "note"]

    def get_readonly_fields(self, request: HttpRequest, obj: ModelEntry | None = None) -> list[str]:
        # Status moves only by the approve/disable actions; identity is fixed once created.
        fixed = ["status", "proposed_by"]
        return fixed + ["pipeline", "model_id"] if obj is not None else fixed

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Disable instead: the entry and its trail stay.
        return False

    def save_model(self, request: HttpRequest, obj: ModelEntry, form: Any, change: bool) -> None:
        note = form.cleaned_data.get("note", "")
        if change:
            stored = ModelEntry.objects.get(pk=obj.pk)
            edited = {name: getattr(obj, name) for name in form.changed_data if name in curation.EDITABLE_FIELDS}
            curation.edit(stored, request.user, edited, note=note)
            return
        fields = {name: getattr(obj, name) for name in curation.CREATE_FIELDS}
        created = curation.register(fields, actor=request.user, status=EntryStatus.PENDING, note=note)
        obj.pk, obj.status, obj.created_at, obj.updated_at = (
            created.pk,
            created.status,
            created.created_at,
            created.updated_at,
        )

    def _change_status(self, request: HttpRequest, queryset: QuerySet[ModelEntry], to: str) -> None:
        changed = 0
        for entry in queryset:
            try:
                curation.change_status(entry, request.user, to, note="Django admin action")
                changed += 1
            except curation.CurationError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if changed:
            self.message_user(request, f"{changed} entr{'y' if changed == 1 else 'ies'} now {to}.", messages.SUCCESS)

    @admin.action(description="Approve selected models (routable and advertised)")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[ModelEntry]) -> None:
        self._change_status(request, queryset, EntryStatus.APPROVED)

    @admin.action(description="Disable selected models (refused by the gateway, no longer advertised)")
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[ModelEntry]) -> None:
        self._change_status(request, queryset, EntryStatus.DISABLED)


@admin.register(ModelAudit)
class ModelAuditAdmin(admin.ModelAdmin):
    list_display = ["at", "entry", "action", "actor", "note"]
    list_filter = ["action"]
    list_select_related = ["entry", "actor"]
    search_fields = ["entry__model_id", "note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
