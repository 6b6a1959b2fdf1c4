from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from livepeer_ai.registry.models import ModelEntry


class Command(BaseCommand):
    help = "Build deterministic tiny random-weight pipelines under var/models and register them."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", default=str(settings.MODELS_DIR), help="Folder to write models into.")
        parser.add_argument("--force", action="store_true", help="Rebuild folders that already exist.")

    def handle(self, *args: Any, output: str, force: bool, **options: Any) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from livepeer_ai.pipelines.tiny import build_all

        catalog = build_all(Path(output), force=force)
        for entry in catalog:
            model, created = ModelEntry.objects.update_or_create(
                pipeline=entry["pipeline"],
                model_id=entry["model_id"],
                defaults={
                    "family": entry["family"],
                    "local_path": entry["local_path"],
                    "max_side": entry.get("max_side", 1024),
                },
            )
            verb = "registered" if created else "updated"
            self.stdout.write(f"{verb} {model.pipeline:20} {model.model_id:36} {model.local_path or '(no weights)'}")
