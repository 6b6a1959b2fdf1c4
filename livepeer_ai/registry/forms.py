from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from livepeer_ai.registry import curation
from livepeer_ai.registry.models import EntryStatus, LoraBase, LoraEntry, ModelEntry, Pipeline


class ListFilterForm(forms.Form):
    """A registry list's filters: each field is named after the entry field it narrows by."""

    def filter(self, entries: QuerySet[Any]) -> QuerySet[Any]:
        chosen = {name: value for name, value in self.cleaned_data.items() if value}
        return entries.filter(**chosen) if chosen else entries

    def query(self) -> str:
        """The filters as a query string, for pagination links."""
        if not self.is_valid():
            return ""
        return "&".join(f"{name}={value}" for name, value in self.cleaned_data.items() if value)


class ModelFilterForm(ListFilterForm):
    status = forms.ChoiceField(choices=[("", "Any status"), *EntryStatus.choices], required=False)
    pipeline = forms.ChoiceField(choices=[("", "Any pipeline"), *Pipeline.choices], required=False)


class ProposeForm(forms.ModelForm):
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the network should run it; curators see this in the audit trail.",
    )

    class Meta:
        model = ModelEntry
        fields = list(curation.CREATE_FIELDS)
        help_texts = {
            "model_id": "The id callers name, e.g. a Hugging Face repo id like stabilityai/sdxl-turbo.",
            "pinned_revision": "The exact upstream revision (commit) of the weights.",
            "local_path": "Where the weights are on the runners' machines (diffusers folder or TorchScript file).",
            "memory_mb": "Device memory one runner needs, in MiB.",
            "default_parameters": 'A JSON object, e.g. {"num_inference_steps": 4}.',
            "runner_version": "The runner version this model was tested with.",
        }

    def clean_default_parameters(self) -> dict[str, Any]:
        value = self.cleaned_data.get("default_parameters")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError('Default parameters must be a JSON object, e.g. {"num_inference_steps": 4}.')
        return value

    def validate_unique(self) -> None:
        # The registry answers duplicates itself, with the existing entry's status.
        existing = ModelEntry.objects.filter(
            pipeline=self.cleaned_data.get("pipeline"), model_id=self.cleaned_data.get("model_id")
        ).first()
        if existing is not None:
            self.add_error(
                "model_id", f"{existing} is already in the registry ({existing.get_status_display().lower()})."
            )

    def registry_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in curation.CREATE_FIELDS}


class StatusForm(forms.Form):
    to = forms.ChoiceField(choices=[(EntryStatus.APPROVED, "Approve"), (EntryStatus.DISABLED, "Disable")])
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class LoraFilterForm(ListFilterForm):
    status = forms.ChoiceField(choices=[("", "Any status"), *EntryStatus.choices], required=False)
    base = forms.ChoiceField(choices=[("", "Any base model"), *LoraBase.choices], required=False)


class LoraProposeForm(forms.ModelForm):
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the network should offer it; curators see this in the audit trail.",
    )

    class Meta:
        model = LoraEntry
        fields = list(curation.LORA_CREATE_FIELDS)
        help_texts = {
            "name": "The name callers give in a request's loras field, e.g. a Hugging Face repo id like nerijs/pixel-art-xl.",
            "base": "The base model it was trained on: it applies to every model built on it.",
            "local_path": "The LoRA's .safetensors file on the runners' machines.",
            "description": "One line shown in the studio's style picker (trigger words belong here).",
            "pinned_revision": "The exact upstream revision (commit) of the file.",
        }

    def validate_unique(self) -> None:
        existing = LoraEntry.objects.filter(name=self.cleaned_data.get("name")).first()
        if existing is not None:
            self.add_error("name", f"{existing} is already in the registry ({existing.get_status_display().lower()}).")

    def clean_local_path(self) -> str:
        path = str(self.cleaned_data.get("local_path", "")).strip()
        if not path.endswith(".safetensors"):
            raise forms.ValidationError("A LoRA is a .safetensors file: give the path of one.")
        return path

    def registry_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in curation.LORA_CREATE_FIELDS}
