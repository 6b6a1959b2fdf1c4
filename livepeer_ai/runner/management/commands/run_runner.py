from __future__ import annotations

import dataclasses
from typing import Any

from django.core.management.base import CommandError

from livepeer_ai.pipelines.base import ModelSpec
from livepeer_ai.pipelines.loader import PIPELINES
from livepeer_ai.pipelines.loras import DEFAULT_MAX_LOADED
from livepeer_ai.registry.models import ModelEntry
from livepeer_ai.runner.schemas import MAX_LORAS
from livepeer_ai.service_command import ServiceCommand


class Command(ServiceCommand):
    help = "Serve the AI runner API for one (pipeline, model) from the registry, loaded warm."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--pipeline", required=True, choices=PIPELINES)
        parser.add_argument("--model", required=True, help="model_id of a registry entry")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if present)")
        parser.add_argument(
            "--max-loaded-loras",
            type=int,
            default=DEFAULT_MAX_LOADED,
            help=f"LoRA adapters kept loaded at once, least recently used evicted first (at least {MAX_LORAS}).",
        )

    def handle(
        self,
        *args: Any,
        pipeline: str,
        model: str,
        port: int,
        host: str,
        device: str | None,
        max_loaded_loras: int,
        **options: Any,
    ) -> None:
        import uvicorn

        from livepeer_ai.runner.app import create_app
        from livepeer_ai.runner.lora_catalog import RegistryLoras

        if max_loaded_loras < MAX_LORAS:
            # One request may name this many: they must all fit at once.
            raise CommandError(f"--max-loaded-loras must be at least {MAX_LORAS}, got {max_loaded_loras}.")
        try:
            entry = ModelEntry.objects.get(pipeline=pipeline, model_id=model)
        except ModelEntry.DoesNotExist:
            known = ", ".join(ModelEntry.objects.filter(pipeline=pipeline).values_list("model_id", flat=True))
            raise CommandError(f"No registry entry for {pipeline} {model!r}. Known: {known or 'none'}.") from None
        spec = dataclasses.replace(ModelSpec.from_dict(entry.spec()), max_loaded_loras=max_loaded_loras)
        app = create_app(spec, device=device, loras=RegistryLoras(entry.family))
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
