"""Which LoRAs a runner may apply: the registry's approved ones for its model's base, re-read as curators
change them, and a request naming any other is refused with its name."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

from livepeer_ai.pipelines.loras import LoraRequest
from livepeer_ai.registry import curation, loras
from livepeer_ai.registry.models import EntryStatus, LoraEntry
from livepeer_ai.runner.lora_catalog import FixedLoras, RegistryLoras, resolve_loras
from livepeer_ai.runner.schemas import BadValue

# The runner reads the catalog off its event loop, in a worker thread with its own connection: so here.
pytestmark = pytest.mark.django_db(transaction=True)


def available(catalog: RegistryLoras) -> Mapping[str, str]:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(catalog.available).result(timeout=30)


def lora(name: str, base: str = "sdxl", status: str = EntryStatus.APPROVED) -> LoraEntry:
    return loras.register_lora(
        {"name": name, "base": base, "local_path": f"/loras/{name.replace('/', '-')}.safetensors"}, status=status
    )


def test_a_runner_may_apply_the_approved_loras_of_its_models_base_only():
    lora("a/pixel")
    lora("a/pending", status=EntryStatus.PENDING)
    lora("a/disabled", status=EntryStatus.DISABLED)
    lora("a/sd15-style", base="sd15")

    assert dict(available(RegistryLoras("sdxl-turbo"))) == {"a/pixel": "/loras/a-pixel.safetensors"}
    assert set(available(RegistryLoras("sd15"))) == {"a/sd15-style"}
    # A family LoRAs do not apply to has none.
    assert available(RegistryLoras("svd")) == {}


def test_curators_changes_reach_the_runner_within_one_refresh():
    catalog = RegistryLoras("sdxl", refresh_s=0)
    entry = lora("a/new", status=EntryStatus.PENDING)
    assert "a/new" not in available(catalog)
    curation.approve(entry, None)
    assert "a/new" in available(catalog)
    curation.disable(entry, None)
    assert "a/new" not in available(catalog)


def test_between_refreshes_the_last_answer_stands():
    catalog = RegistryLoras("sdxl", refresh_s=3600)
    assert available(catalog) == {}
    lora("a/late")
    assert available(catalog) == {}


def test_resolving_names_their_files_or_refuses_the_first_unknown_by_name():
    catalog = FixedLoras({"a/pixel": "/loras/pixel.safetensors"})
    assert resolve_loras({"a/pixel": 0.5}, catalog) == [LoraRequest("a/pixel", "/loras/pixel.safetensors", 0.5)]
    assert resolve_loras({}, catalog) == []
    with pytest.raises(BadValue, match="LoRA 'b/other' is not available on this runner"):
        resolve_loras({"a/pixel": 1.0, "b/other": 1.0}, catalog)
