from __future__ import annotations

from django.contrib import admin

from livepeer_ai.registry.models import ModelEntry


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    list_display = ["model_id", "pipeline", "family", "local_path", "max_side", "updated_at"]
    list_filter = ["pipeline", "family"]
    search_fields = ["model_id", "local_path"]
