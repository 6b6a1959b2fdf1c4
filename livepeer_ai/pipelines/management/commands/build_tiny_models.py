from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from livepeer_ai.registry import curation, loras
from livepeer_ai.registry.models import EntryStatus, LoraEntry, ModelEntry


class Command(BaseCommand):
    help = "Build deterministic tiny random-weight pipelines and LoRAs under var/models and register them (approved)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", default=str(settings.MODELS_DIR), help="Folder to write models into.")
        parser.add_argument("--force", action="store_true", help="Rebuild folders that already exist.")

    def handle(self, *args: Any, output: str, force: bool, **options: Any) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from livepeer_ai.pipelines.tiny import build_all
        from livepeer_ai.pipelines.tiny_lora import build_tiny_loras

        catalog = build_all(Path(output), force=force)
        for built in catalog:
            fields = {
                "family": built["family"],
                "local_path": built["local_path"],
                "max_side": built.get("max_side", 1024),
            }
            model = ModelEntry.objects.filter(pipeline=built["pipeline"], model_id=built["model_id"]).first()
            if model is None:
                # Run by an admin: the network's own models are approved as they are registered.
                model = curation.register(
                    {"pipeline": built["pipeline"], "model_id": built["model_id"], **fields},
                    status=EntryStatus.APPROVED,
                    note="Tiny random-weight build registered by build_tiny_models.",
                )
                verb = "registered"
            else:
                # A curator's decision (e.g. disabled) stands; only where the weights are is updated.
                curation.edit(model, None, fields, note="Rebuilt by build_tiny_models.")
                verb = "updated"
            self.stdout.write(
                f"{verb} {model.pipeline:20} {model.model_id:36} {model.status:9} {model.local_path or '(no weights)'}"
            )
        self.register_loras(build_tiny_loras(Path(output), force=force))

    def register_loras(self, catalog: list[dict[str, Any]]) -> None:
        for built in catalog:
            fields = {name: built[name] for name in ("base", "local_path", "description")}
            lora = LoraEntry.objects.filter(name=built["name"]).first()
            if lora is None:
                lora = loras.register_lora(
                    {"name": built["name"], **fields},
                    status=EntryStatus.APPROVED,
                    note="Tiny random-weight LoRA registered by build_tiny_models.",
                )
                verb = "registered"
            else:
                curation.edit(lora, None, fields, note="Rebuilt by build_tiny_models.")
                verb = "updated"
            self.stdout.write(f"{verb} {'LoRA':20} {lora.name:36} {lora.status:9} {lora.local_path}")
