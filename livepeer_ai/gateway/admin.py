from __future__ import annotations

from django.contrib import admin

from livepeer_ai.gateway.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "prompt", "stage_index", "step", "total_steps", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "prompt"]
    readonly_fields = ["created_at", "started_at", "finished_at", "updated_at"]
