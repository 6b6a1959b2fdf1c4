"""The registry in the Django admin: every save and action goes through `registry.curation`,
so the audit trail is the same whichever door a change came through. Models and LoRAs
are curated alike (CuratedEntryAdmin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from livepeer_ai.registry import curation, loras
from livepeer_ai.registry.models import EntryStatus, LoraAudit, LoraEntry, ModelAudit, ModelEntry

NOTE_FIELD = forms.CharField(
    required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Why: kept in the audit trail."
)


class ModelEntryAdminForm(forms.ModelForm):
    note = NOTE_FIELD

    class Meta:
        model = ModelEntry
        fields = ["pipeline", "model_id", *curation.EDITABLE_FIELDS]


class LoraEntryAdminForm(forms.ModelForm):
    note = NOTE_FIELD

    class Meta:
        model = LoraEntry
        fields = ["name", *curation.LORA_EDITABLE_FIELDS]


class AuditInline(admin.TabularInline):
    extra = 0
    fields = ("at", "actor", "action", "changes", "note")
    readonly_fields = fields
    can_delete = False
    ordering = ["-at", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Each row shows its actor and (as its title) its entry: joined, not one query per row.
        return super().get_queryset(request).select_related("entry", "actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ModelAuditInline(AuditInline):
    model = ModelAudit


class LoraAuditInline(AuditInline):
    model = LoraAudit


class CuratedEntryAdmin(admin.ModelAdmin):
    """Create, edit, approve and disable through `registry.curation`; never delete (disable instead)."""

    identity: ClassVar[tuple[str, ...]]
    editable: ClassVar[tuple[str, ...]]
    register_entry: ClassVar[Callable[..., Any]]
    list_select_related = ["proposed_by"]
    actions = ["approve_selected", "disable_selected"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        return [*self.identity, "status", "proposed_by", *self.editable, "note"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Status moves only by the approve/disable actions; identity is fixed once created.
        fixed = ["status", "proposed_by"]
        return fixed + list(self.identity) if obj is not None else fixed

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Disable instead: the entry and its trail stay.
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        note = form.cleaned_data.get("note", "")
        if change:
            stored = type(obj).objects.get(pk=obj.pk)
            edited = {name: getattr(obj, name) for name in form.changed_data if name in self.editable}
            curation.edit(stored, request.user, edited, note=note)
            return
        fields = {name: getattr(obj, name) for name in (*self.identity, *self.editable)}
        created = type(self).register_entry(fields, actor=request.user, status=EntryStatus.PENDING, note=note)
        obj.pk, obj.status, obj.created_at, obj.updated_at = (
            created.pk,
            created.status,
            created.created_at,
            created.updated_at,
        )

    def _change_status(self, request: HttpRequest, queryset: QuerySet[Any], to: str) -> None:
        changed = 0
        for entry in queryset:
            try:
                curation.change_status(entry, request.user, to, note="Django admin action")
                changed += 1
            except curation.CurationError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if changed:
            self.message_user(request, f"{changed} entr{'y' if changed == 1 else 'ies'} now {to}.", messages.SUCCESS)

    @admin.action(description="Approve selected entries (routable and advertised)")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._change_status(request, queryset, EntryStatus.APPROVED)

    @admin.action(description="Disable selected entries (refused by the gateway, no longer advertised)")
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._change_status(request, queryset, EntryStatus.DISABLED)


@admin.register(ModelEntry)
class ModelEntryAdmin(CuratedEntryAdmin):
    form = ModelEntryAdminForm
    identity = ("pipeline", "model_id")
    editable = curation.EDITABLE_FIELDS
    register_entry = staticmethod(curation.register)
    list_display = ["model_id", "pipeline", "status", "family", "licence", "commercial_use", "nsfw_level", "memory_mb"]
    list_filter = ["status", "pipeline", "family", "commercial_use", "nsfw_level"]
    search_fields = ["model_id", "local_path", "licence"]
    inlines = [ModelAuditInline]


@admin.register(LoraEntry)
class LoraEntryAdmin(CuratedEntryAdmin):
    form = LoraEntryAdminForm
    identity = ("name",)
    editable = curation.LORA_EDITABLE_FIELDS
    register_entry = staticmethod(loras.register_lora)
    list_display = ["name", "base", "status", "licence", "commercial_use", "nsfw_level"]
    list_filter = ["status", "base", "commercial_use", "nsfw_level"]
    search_fields = ["name", "local_path", "description", "licence"]
    inlines = [LoraAuditInline]


class AuditAdmin(admin.ModelAdmin):
    list_display = ["at", "entry", "action", "actor", "note"]
    list_filter = ["action"]
    list_select_related = ["entry", "actor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ModelAudit)
class ModelAuditAdmin(AuditAdmin):
    search_fields = ["entry__model_id", "note"]


@admin.register(LoraAudit)
class LoraAuditAdmin(AuditAdmin):
    search_fields = ["entry__name", "note"]
