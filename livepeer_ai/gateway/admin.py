from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from livepeer_ai.gateway.models import ApiKey, Job, Orchestrator, WebhookDelivery


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "prompt", "stage_index", "step", "total_steps", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "prompt"]
    readonly_fields = ["created_at", "started_at", "finished_at", "updated_at"]


class ApiKeyForm(forms.ModelForm):
    # Wei is stored as text (payments.models.WeiField): the admin takes a whole number, never text.
    daily_spend_limit_wei = forms.IntegerField(
        min_value=0,
        required=False,
        label="Daily spend limit (wei)",
        help_text="Fees this key may spend per UTC day; empty for no limit. 1 ETH = 10^18 wei.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "owner", "revoked", "daily_spend_limit_wei"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "owner", "created_at", "last_used_at", "revoked", "daily_spend_limit_wei"]
    list_filter = ["revoked"]
    fields = ["name", "owner", "revoked", "daily_spend_limit_wei", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued, key = ApiKey.issue(obj.name, obj.owner)
        obj.pk, obj.prefix, obj.key_hash = issued.pk, issued.prefix, issued.key_hash
        ApiKey.objects.filter(pk=issued.pk).update(revoked=obj.revoked, daily_spend_limit_wei=obj.daily_spend_limit_wei)
        # The only time the key is visible: it is stored hashed.
        messages.warning(request, f"API key for {obj.name}: {key} (copy it now; it is not shown again)")


@admin.register(Orchestrator)
class OrchestratorAdmin(admin.ModelAdmin):
    list_display = ["service_uri", "address", "reachable", "suspended_until", "failures_in_row", "info_fetched_at"]
    readonly_fields = ["info", "info_fetched_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """What was sent to API callers' webhooks, and what came back (gateway/webhooks.py)."""

    list_display = ["job", "event", "url", "attempts", "status_code", "delivered_at", "next_attempt_at", "created_at"]
    list_filter = ["event"]
    search_fields = ["job__id", "url"]
    list_select_related = ["job"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
