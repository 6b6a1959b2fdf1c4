"""LoRA adapters on the tiny image pipelines, in-process: a LoRA changes the picture, a request without
one gets the base model's picture bit for bit, one request's adapters never reach the next, and the
runner keeps no more adapters loaded than its bound, evicting the least recently used."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from livepeer_ai.pipelines.base import CancelToken, ModelSpec
from livepeer_ai.pipelines.loras import LoraLoadFailed, LoraRequest
from livepeer_ai.pipelines.tiny import build_sd15, build_tokenizer
from livepeer_ai.pipelines.tiny_lora import build_lora

BOUND = 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny SD 1.x model and three LoRAs for it, built once for the module."""
    root = tmp_path_factory.mktemp("lora-models")
    build_tokenizer(root / "tokenizer")
    build_sd15(root / "sd15", root / "tokenizer")
    loras = {}
    for seed, name in enumerate(("ink", "neon", "pastel"), start=1):
        path = root / "loras" / f"{name}.safetensors"
        build_lora(root / "sd15", path, "sd15", seed)
        loras[name] = str(path)
    return {"model": root / "sd15", "loras": loras}


@pytest.fixture(scope="module")
def text_to_image(tiny: dict[str, Any]) -> Any:
    from livepeer_ai.pipelines.text_to_image import TextToImage

    spec = ModelSpec("text-to-image", "tiny/sd15", "sd15", str(tiny["model"]), max_loaded_loras=BOUND)
    return TextToImage(spec, "cpu")


def lora(tiny: dict[str, Any], name: str, weight: float = 1.0) -> LoraRequest:
    return LoraRequest(f"tests/{name}", tiny["loras"][name], weight)


def picture(pipeline: Any, loras: Sequence[LoraRequest] = (), **changes: Any) -> bytes:
    """The raw pixels of one fixed-seed image."""
    arguments: dict[str, Any] = {
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "",
        "width": 32,
        "height": 32,
        "guidance_scale": 7.5,
        "num_inference_steps": 1,
        "num_images_per_prompt": 1,
        "seed": 5,
        "on_progress": lambda step, total: None,
        "cancel": CancelToken(),
        **changes,
    }
    return bytes(pipeline(loras=loras, **arguments)[0].image.tobytes())


def test_a_lora_changes_the_picture_and_a_request_without_one_gets_the_base_bit_for_bit(text_to_image, tiny):
    base = picture(text_to_image)
    styled = picture(text_to_image, [lora(tiny, "ink")])
    assert styled != base
    # The adapter stays loaded (for the next request that names it) but takes no part in this one.
    assert picture(text_to_image) == base
    assert text_to_image.loras.names == ["tests/ink"]
    # And it comes back exactly as it was.
    assert picture(text_to_image, [lora(tiny, "ink")]) == styled


def test_the_weight_scales_the_adapter(text_to_image, tiny):
    full, half = picture(text_to_image, [lora(tiny, "ink", 1.0)]), picture(text_to_image, [lora(tiny, "ink", 0.5)])
    assert full != half
    # Weight 0 adds nothing at all.
    assert picture(text_to_image, [lora(tiny, "ink", 0.0)]) == picture(text_to_image)


def test_one_requests_adapters_never_reach_the_next(text_to_image, tiny):
    neon_alone = picture(text_to_image, [lora(tiny, "neon")])
    both = picture(text_to_image, [lora(tiny, "ink"), lora(tiny, "neon", 0.7)])
    assert both != neon_alone
    # Ink was active in the last request; this one names neon only, at its own weight.
    assert picture(text_to_image, [lora(tiny, "neon")]) == neon_alone


def test_adapters_beyond_the_bound_evict_the_least_recently_used(text_to_image, tiny):
    ink = picture(text_to_image, [lora(tiny, "ink")])
    picture(text_to_image, [lora(tiny, "neon")])
    picture(text_to_image, [lora(tiny, "ink")])  # ink is now the most recently used
    picture(text_to_image, [lora(tiny, "pastel")])

    assert text_to_image.loras.names == ["tests/ink", "tests/pastel"]
    loaded = text_to_image.pipe.get_list_adapters()["unet"]
    assert len(loaded) == BOUND
    # Neon was evicted; asked for again it is loaded again (evicting ink now) and works as before.
    neon = picture(text_to_image, [lora(tiny, "neon")])
    assert text_to_image.loras.names == ["tests/pastel", "tests/neon"]
    assert neon != ink
    assert picture(text_to_image, [lora(tiny, "ink")]) == ink


@pytest.mark.parametrize("kind", ["not-safetensors", "other-shapes"])
def test_a_file_that_does_not_load_fails_and_leaves_nothing_of_itself_behind(text_to_image, tiny, tmp_path, kind):
    from safetensors.torch import load_file, save_file

    base, ink = picture(text_to_image), picture(text_to_image, [lora(tiny, "ink")])
    broken = tmp_path / "broken.safetensors"
    if kind == "not-safetensors":
        broken.write_bytes(b"not a safetensors file")
    else:
        # A LoRA for another UNet: its layers are injected, then its weights do not fit them.
        weights = load_file(tiny["loras"]["neon"])
        first = next(name for name in weights if ".lora.down." in name)
        weights[first] = weights[first][:, :-1].contiguous()
        save_file(weights, str(broken))

    with pytest.raises(LoraLoadFailed, match="tests/broken"):
        picture(text_to_image, [LoraRequest("tests/broken", str(broken), 1.0)])

    # (Room was made for it first: at the bound, the least recently used adapter went.)
    assert "tests/broken" not in text_to_image.loras.names
    assert len(text_to_image.pipe.get_list_adapters()["unet"]) == len(text_to_image.loras.names)
    assert picture(text_to_image) == base
    assert picture(text_to_image, [lora(tiny, "ink")]) == ink


def test_image_to_image_takes_loras_the_same_way(tiny):
    from livepeer_ai.pipelines.image_to_image import ImageToImage

    spec = ModelSpec("image-to-image", "tiny/sd15", "sd15", str(tiny["model"]))
    pipeline = ImageToImage(spec, "cpu")
    source = Image.new("RGB", (32, 32), (40, 160, 90))
    changes = {"image": source, "strength": 0.6, "num_inference_steps": 4}
    for unused in ("width", "height"):
        changes[unused] = None

    def run(loras: Sequence[LoraRequest] = ()) -> bytes:
        arguments = {k: v for k, v in changes.items() if v is not None}
        buffer = io.BytesIO()
        outputs = pipeline(
            prompt="a lighthouse at dusk",
            negative_prompt="",
            guidance_scale=7.5,
            num_images_per_prompt=1,
            seed=5,
            on_progress=lambda step, total: None,
            cancel=CancelToken(),
            loras=loras,
            **arguments,
        )
        outputs[0].image.save(buffer, format="PNG")
        return buffer.getvalue()

    base = run()
    assert run([lora(tiny, "pastel")]) != base
    assert run() == base


def test_the_bound_must_hold_at_least_one_adapter(text_to_image):
    from livepeer_ai.pipelines.loras import LoraAdapters

    with pytest.raises(ValueError, match="at least 1"):
        LoraAdapters(text_to_image.pipe, 0)


def test_the_tiny_loras_are_files_diffusers_reads(tiny):
    from safetensors import safe_open

    with safe_open(tiny["loras"]["ink"], framework="pt") as weights:
        keys = list(weights.keys())
    assert keys and all(key.startswith("unet.") for key in keys)
    assert any(".lora.down." in key for key in keys) and any(".lora.up." in key for key in keys)
    assert Path(tiny["loras"]["ink"]).stat().st_size < 200_000
