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
    upscale = forms.BooleanField(
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "id_upscale-help"}),
        label="Upscale ×4",
        help_text="Generate at a quarter of the size, then upscale every frame: sharper, slower.",
    )
    interpolate = forms.BooleanField(
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "id_interpolate-help"}),
        label="Smooth motion",
        help_text="Frame interpolation: twice the frames at twice the frame rate.",
    )
