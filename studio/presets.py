"""Style presets: a few words added to the member's prompt and negative prompt.

The job's prompt is what the model was sent (prompt plus the style's words), so a
result can be made again from it; the member's own prompt stays on the Generation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StylePreset:
    key: str
    label: str
    prompt_words: str
    negative_words: str


STYLE_PRESETS: dict[str, StylePreset] = {
    preset.key: preset
    for preset in (
        StylePreset("", "None", "", ""),
        StylePreset("pixel-art", "Pixel art", "pixel art, 16-bit, crisp edges, limited palette", "blurry, photo"),
        StylePreset("anime", "Anime", "anime style, cel shading, vibrant colours", "photorealistic, lowres"),
        StylePreset("claymation", "Claymation", "claymation, stop motion, plasticine figures", "lowres, blurry"),
        StylePreset("watercolour", "Watercolour", "watercolour painting, soft edges, paper texture", "photo, 3d"),
        StylePreset("cinematic", "Cinematic", "cinematic still, dramatic lighting, 35mm film grain", "cartoon, lowres"),
    )
}


def apply_style(prompt: str, negative_prompt: str, style: str) -> tuple[str, str]:
    """(prompt, negative prompt) as sent to the model."""
    preset = STYLE_PRESETS[style]
    words = [w for w in (prompt, preset.prompt_words) if w]
    negative = [w for w in (negative_prompt, preset.negative_words) if w]
    return ", ".join(words), ", ".join(negative)
