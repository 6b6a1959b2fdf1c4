"""Which LoRAs a runner may apply: the registry's approved ones for its model's base, by name.

`run_runner` gives its runner a `RegistryLoras`, which reads the registry when a
request first names a LoRA and again at most every `refresh_s`: a LoRA approved
while the runner runs becomes usable, and one disabled is refused, within one
refresh, with no restart. If the registry cannot be read the last answer stands;
before any answer, none is available (fail closed). Tests and embedders give a
`FixedLoras` instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from livepeer_ai.pipelines.loras import LoraRequest
from livepeer_ai.runner.schemas import BadValue

logger = logging.getLogger(__name__)


class LoraCatalog(Protocol):
    def available(self) -> Mapping[str, str]:
        """name → local `.safetensors` path of every LoRA this runner may apply (may read the database)."""
        ...


@dataclass(frozen=True)
class FixedLoras:
    paths: Mapping[str, str] = field(default_factory=dict)

    def available(self) -> Mapping[str, str]:
        return self.paths


class RegistryLoras:
    def __init__(self, family: str, refresh_s: float = 5.0) -> None:
        self.family = family
        self.refresh_s = refresh_s
        self._paths: Mapping[str, str] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def available(self) -> Mapping[str, str]:
        with self._lock:
            if self._loaded_at is None or time.monotonic() - self._loaded_at >= self.refresh_s:
                from django.db import DatabaseError, close_old_connections

                from livepeer_ai.registry.loras import approved_lora_paths

                try:
                    self._paths = approved_lora_paths(self.family)
                except DatabaseError:
                    logger.exception("could not read the LoRA registry; keeping the last answer")
                finally:
                    close_old_connections()
                self._loaded_at = time.monotonic()
            return self._paths


def resolve_loras(requested: Mapping[str, float], catalog: LoraCatalog) -> list[LoraRequest]:
    """The requested LoRAs with their files, or BadValue naming the first this runner may not apply."""
    if not requested:
        return []
    paths = catalog.available()
    for name in requested:
        if name not in paths:
            raise BadValue(
                f"LoRA {name!r} is not available on this runner: it is not an approved LoRA for this model's base."
            )
    return [LoraRequest(name, paths[name], weight) for name, weight in requested.items()]
