from __future__ import annotations

from django import forms


class PromptForm(forms.Form):
    prompt = forms.CharField(
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "a pixel art robot dancing in the rain"}),
    )
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=2**32 - 1, help_text="Leave empty for a random seed."
    )
