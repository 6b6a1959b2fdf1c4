"""Bring your own model: `propose_model` takes a diffusers folder or a single-file checkpoint, checks that it
loads, detects its family and measures its memory, and proposes pending entries an admin then approves."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from livepeer_ai.registry import curation
from livepeer_ai.registry.curation import routable_model
from livepeer_ai.registry.models import AuditAction, EntryStatus, ModelEntry
from tests.livepeer_ai.pipelines.single_file import save_as_single_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny SD 1.x and SDXL Turbo diffusers folder, and the SD 1.x one saved as a single original-format file."""
    from livepeer_ai.pipelines.tiny import build_sd15, build_sdxl_turbo, build_tokenizer

    root = tmp_path_factory.mktemp("byo")
    build_tokenizer(root / "tokenizer")
    build_sd15(root / "sd15", root / "tokenizer")
    build_sdxl_turbo(root / "sdxl-turbo", root / "tokenizer")
    save_as_single_file(root / "sd15", root / "downloads" / "my-finetune.safetensors")
    return {
        "sd15": root / "sd15",
        "sdxl-turbo": root / "sdxl-turbo",
        "single": root / "downloads" / "my-finetune.safetensors",
    }


def propose(path: Path, model_id: str, **options: Any) -> None:
    call_command("propose_model", str(path), model_id=model_id, **options)


def weights_mib(folder: Path) -> float:
    """What the CPU check measures, read independently: the fp32 weight files' sizes."""
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors")) / (1024 * 1024)


def test_a_diffusers_folder_becomes_pending_entries_an_admin_approves(tiny, personas):
    propose(tiny["sd15"], "me/my-sd15", licence="openrail", proposed_by=personas.operator.username)

    entries = {entry.pipeline: entry for entry in ModelEntry.objects.filter(model_id="me/my-sd15")}
    assert set(entries) == {"text-to-image", "image-to-image"}
    entry = entries["text-to-image"]
    assert (entry.status, entry.family, entry.local_path) == (EntryStatus.PENDING, "sd15", str(tiny["sd15"]))
    assert (entry.licence, entry.proposed_by) == ("openrail", personas.operator)
    # Measured: the weights' size on a CPU (the files hold the same fp32 tensors, plus small headers).
    assert entry.memory_mb > 0 and math.isclose(entry.memory_mb, weights_mib(tiny["sd15"]), abs_tol=1)
    record = entry.audit.get()
    assert record.action == AuditAction.PROPOSED
    assert "Checked by propose_model: loads as sd15" in record.note and "cpu: weights only" in record.note

    curation.approve(entry, personas.admin)
    assert routable_model("text-to-image", "me/my-sd15") == entry


def test_an_sdxl_turbo_folder_is_told_from_sdxl_by_its_scheduler(tiny):
    propose(tiny["sdxl-turbo"], "me/turbo", pipeline=["text-to-image"])
    entry = ModelEntry.objects.get(model_id="me/turbo")
    assert (entry.pipeline, entry.family, entry.status) == ("text-to-image", "sdxl-turbo", EntryStatus.PENDING)
    # The same weights proposed as plain SDXL, by the operator's word.
    propose(tiny["sdxl-turbo"], "me/turbo-as-sdxl", pipeline=["image-to-image"], family="sdxl")
    assert ModelEntry.objects.get(model_id="me/turbo-as-sdxl").family == "sdxl"


def test_a_single_file_is_converted_to_a_folder_the_runners_load(tiny, tmp_path):
    import torch
    from diffusers import UNet2DConditionModel

    out = tmp_path / "my-finetune"
    propose(tiny["single"], "me/single-file", config=str(tiny["sd15"]), output=str(out))

    entry = ModelEntry.objects.get(model_id="me/single-file", pipeline="text-to-image")
    assert (entry.family, entry.local_path) == ("sd15", str(out))
    assert f"converted from {tiny['single']}" in entry.audit.get().note
    converted = UNet2DConditionModel.from_pretrained(str(out / "unet")).state_dict()
    original = UNet2DConditionModel.from_pretrained(str(tiny["sd15"] / "unet")).state_dict()
    assert converted.keys() == original.keys()
    assert all(torch.equal(converted[name], original[name]) for name in original)


def test_a_single_file_takes_its_configs_from_a_registered_folder_of_its_family(tiny, tmp_path, settings):
    settings.MODELS_DIR = tmp_path
    curation.register(
        {"pipeline": "text-to-image", "model_id": "base/sd15", "family": "sd15", "local_path": str(tiny["sd15"])}
    )
    propose(tiny["single"], "me/Fine Tune v2")
    assert ModelEntry.objects.get(model_id="me/Fine Tune v2", pipeline="image-to-image").local_path == str(
        tmp_path / "me--Fine--Tune--v2"
    )


def test_a_single_file_with_no_folder_to_take_configs_from_says_so(tiny):
    with pytest.raises(CommandError, match="No registered sd15 diffusers folder to take configs from: give --config"):
        propose(tiny["single"], "me/orphan")
    assert not ModelEntry.objects.exists()


def test_weights_that_draw_nothing_are_refused(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(tiny["sd15"], broken)
    weights = broken / "unet" / "diffusion_pytorch_model.safetensors"
    save_file({name: tensor * float("nan") for name, tensor in load_file(weights).items()}, str(weights))

    with pytest.raises(CommandError, match="drew a blank picture"):
        propose(broken, "me/broken")
    assert not ModelEntry.objects.exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root, "has neither model_index.json"),
        (lambda root: (root / "notes.txt", (root / "notes.txt").write_text("hi"))[0], "neither a diffusers folder"),
        (lambda root: (root / "x.safetensors", (root / "x.safetensors").write_bytes(b"junk"))[0], "could not be read"),
    ],
    ids=["empty-folder", "text-file", "not-safetensors"],
)
def test_what_is_not_a_model_is_refused_with_the_reason(tmp_path, make, message):
    with pytest.raises(CommandError, match=message):
        propose(make(tmp_path), "me/nothing")
    assert not ModelEntry.objects.exists()


def test_a_folder_of_another_pipeline_class_is_refused(tiny, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny["sd15"], other)
    (other / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    with pytest.raises(CommandError, match="is a FluxPipeline pipeline; this network runs"):
        propose(other, "me/flux")


def test_stable_diffusion_2_is_told_from_1_and_refused(tiny, tmp_path):
    sd2 = tmp_path / "sd2"
    shutil.copytree(tiny["sd15"], sd2)
    config = json.loads((sd2 / "unet" / "config.json").read_text())
    (sd2 / "unet" / "config.json").write_text(json.dumps({**config, "cross_attention_dim": 1024}))
    with pytest.raises(CommandError, match="is Stable Diffusion 2.x, which this network does not run"):
        propose(sd2, "me/sd2")


def test_a_single_file_of_another_architecture_is_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    # The key and width diffusers tells an SD 2.x checkpoint by.
    path = tmp_path / "sd2.safetensors"
    save_file(
        {"model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight": torch.zeros(4, 1024)},
        str(path),
    )
    with pytest.raises(CommandError, match="is a v2 checkpoint; single files of SD 1.x and SDXL are taken"):
        propose(path, "me/sd2-file")


def test_an_id_already_registered_is_refused_and_nothing_is_added(tiny):
    curation.register({"pipeline": "image-to-image", "model_id": "me/taken", "family": "sd15"})
    with pytest.raises(CommandError, match="image-to-image: me/taken is already in the registry"):
        propose(tiny["sd15"], "me/taken")
    assert ModelEntry.objects.filter(model_id="me/taken").count() == 1


def test_only_operators_and_admins_may_be_named_as_proposers(tiny, personas):
    with pytest.raises(CommandError, match="may not propose models"):
        propose(tiny["sd15"], "me/by-member", proposed_by=personas.member.username)
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        propose(tiny["sd15"], "me/by-nobody", proposed_by="nobody")
    with pytest.raises(CommandError, match="cannot be proposed as svd"):
        propose(tiny["sd15"], "me/wrong-family", family="svd")
    assert not ModelEntry.objects.exists()
