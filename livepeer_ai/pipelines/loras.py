"""LoRA adapters on a warm diffusers pipeline: loaded on first use, kept while used, evicted least recently used.

Each request states its whole set of adapters (`apply`): the ones it names are
activated with their weights and every other loaded one is switched off, and a
request with none disables LoRA altogether. So one request's adapters never reach
the next, and with no adapter active the base model computes exactly as before any
was loaded (PEFT's layers then call the base layer alone; nothing is fused into
the weights).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# How many adapters a runner keeps loaded by default: a few requests' worth of four each.
DEFAULT_MAX_LOADED = 8


@dataclass(frozen=True)
class LoraRequest:
    """One LoRA a request applies: its registry name, the file it is in, and its weight."""

    name: str
    path: str
    weight: float


class LoraLoadFailed(RuntimeError):
    """An approved LoRA's file could not be loaded into this pipeline (a fault of the node, not the caller)."""


def adapter_name(name: str) -> str:
    # PEFT keeps adapters in module dicts, whose keys may not hold "." (and registry names
    # are repo ids like "nerijs/pixel-art-xl"): a stable name derived from it instead.
    return "lora_" + hashlib.sha256(name.encode()).hexdigest()[:16]


class LoraAdapters:
    """The adapters loaded into one pipeline, least recently used first."""

    def __init__(self, pipe: Any, max_loaded: int = DEFAULT_MAX_LOADED) -> None:
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be at least 1, got {max_loaded}.")
        self.pipe = pipe
        self.max_loaded = max_loaded
        # registry name → (adapter name, file), in order of last use.
        self.loaded: OrderedDict[str, tuple[str, str]] = OrderedDict()

    @property
    def names(self) -> list[str]:
        """Loaded LoRAs, least recently used first."""
        return list(self.loaded)

    def apply(self, loras: Sequence[LoraRequest]) -> None:
        """Make exactly these adapters active, with their weights (none: the base model alone)."""
        if len(loras) > self.max_loaded:
            raise ValueError(
                f"This runner keeps at most {self.max_loaded} LoRAs loaded; the request names {len(loras)}."
            )
        if not loras:
            if self.loaded:
                self.pipe.disable_lora()
            return
        wanted = {lora.name for lora in loras}
        for lora in loras:
            self._load(lora, keep=wanted)
        self.pipe.enable_lora()
        self.pipe.set_adapters([self.loaded[lora.name][0] for lora in loras], [lora.weight for lora in loras])

    def _load(self, lora: LoraRequest, keep: set[str]) -> None:
        if lora.name in self.loaded and self.loaded[lora.name][1] == lora.path:
            self.loaded.move_to_end(lora.name)
            return
        if lora.name in self.loaded:
            # The registry points the name at another file now: load that one instead.
            self._unload(lora.name)
        while len(self.loaded) >= self.max_loaded:
            oldest = next(name for name in self.loaded if name not in keep)
            self._unload(oldest)
        adapter = adapter_name(lora.name)
        path = Path(lora.path)
        try:
            # A file that fails part way (shapes of another base) is taken out again by diffusers itself.
            self.pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=adapter)
        except Exception as exc:
            logger.exception("could not load LoRA %s from %s", lora.name, lora.path)
            raise LoraLoadFailed(f"LoRA {lora.name!r} could not be loaded on this runner.") from exc
        self.loaded[lora.name] = (adapter, lora.path)
        logger.info("loaded LoRA %s (%d loaded)", lora.name, len(self.loaded))

    def _unload(self, name: str) -> None:
        adapter, _path = self.loaded.pop(name)
        self.pipe.delete_adapters([adapter])
        logger.info("evicted LoRA %s (%d loaded)", name, len(self.loaded))
