from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.management import call_command

from livepeer_ai.registry.models import LoraEntry, ModelEntry


def digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_the_build_stamp_changes_with_any_builders_source(tmp_path):
    from livepeer_ai.pipelines import tiny

    for source in Path(tiny.__file__).parent.glob("tiny*.py"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    assert tiny.build_stamp(tmp_path) == tiny.build_stamp()
    with (tmp_path / "tiny_lora.py").open("a") as source:
        source.write("# an edit\n")
    assert tiny.build_stamp(tmp_path) != tiny.build_stamp()


@pytest.mark.django_db
def test_build_is_deterministic_registers_every_pipeline_and_a_rebuild_keeps_the_folders(tmp_path, stack_env):
    call_command("build_tiny_models", output=str(tmp_path))
    # The session's models were built by another process: same configs, same bytes.
    session_models = Path(stack_env["LIVEPEER_MODELS_DIR"])
    ours, theirs = digests(tmp_path), digests(session_models)
    assert any(name.endswith(".safetensors") for name in ours)
    assert ours == theirs
    registered = set(ModelEntry.objects.values_list("pipeline", "model_id"))
    assert registered == {
        ("text-to-image", "livepeer-ai/tiny-sdxl-turbo"),
        ("text-to-image", "livepeer-ai/tiny-sd15"),
        ("image-to-image", "livepeer-ai/tiny-sdxl-turbo"),
        ("image-to-image", "livepeer-ai/tiny-sd15"),
        ("image-to-video", "livepeer-ai/tiny-svd-xt"),
        ("upscale", "livepeer-ai/tiny-sd-x4-upscaler"),
        ("frame-interpolation", "opencv/dis-flow"),
        ("image-to-text", "livepeer-ai/tiny-blip-captioning"),
        ("audio-to-text", "livepeer-ai/tiny-whisper"),
        ("llm", "livepeer-ai/tiny-llama-instruct"),
        ("text-to-speech", "livepeer-ai/tiny-vits"),
        ("segment-anything-2", "livepeer-ai/tiny-sam2-hiera"),
    }
    entry = ModelEntry.objects.get(pipeline="image-to-video")
    assert entry.local_path == str(tmp_path / "tiny-svd-xt")
    assert (Path(entry.local_path) / "model_index.json").exists()
    # A tiny LoRA per image base, approved, its file beside the models.
    loras = {lora.name: lora for lora in LoraEntry.objects.all()}
    assert {name: (lora.base, lora.status) for name, lora in loras.items()} == {
        "livepeer-ai/tiny-sd15-lora": ("sd15", "approved"),
        "livepeer-ai/tiny-sdxl-lora": ("sdxl", "approved"),
    }
    assert loras["livepeer-ai/tiny-sd15-lora"].local_path == str(tmp_path / "tiny-loras" / "tiny-sd15-lora.safetensors")

    # Run again (a build is a dozen CPU-seconds, so on the same folder): existing folders are kept, and
    # the entries are updated, not added.
    weights = next(tmp_path.glob("tiny-sd15/unet/*.safetensors"))
    before = weights.stat().st_mtime_ns
    call_command("build_tiny_models", output=str(tmp_path))
    assert weights.stat().st_mtime_ns == before
    assert ModelEntry.objects.count() == 12
    assert LoraEntry.objects.count() == 2

    # A folder other code built (its stamp differs: the builders or the libraries changed since; a folder
    # from before stamps has none) is built again from nothing, and the LoRA made on it too; the rest stay.
    (tmp_path / "tiny-sd15" / ".tiny-build").write_text("an older build\n")
    svd = tmp_path / "tiny-svd-xt"
    (svd / ".tiny-build").unlink()
    (svd / "unet" / "left-by-an-older-build.bin").write_bytes(b"old")
    lora = tmp_path / "tiny-loras" / "tiny-sd15-lora.safetensors"
    untouched = [
        next(tmp_path.glob("tiny-sdxl-turbo/unet/*.safetensors")),
        tmp_path / "tiny-loras" / "tiny-sdxl-lora.safetensors",
    ]
    kept = {path: path.stat().st_mtime_ns for path in untouched}
    lora_before = lora.stat().st_mtime_ns
    call_command("build_tiny_models", output=str(tmp_path))
    assert weights.stat().st_mtime_ns != before
    assert lora.stat().st_mtime_ns != lora_before
    assert {path: path.stat().st_mtime_ns for path in untouched} == kept
    assert digests(tmp_path) == theirs
