"""Bring your own model: check a diffusers folder or a `.safetensors` checkpoint and propose it to the registry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from livepeer_ai.registry import curation
from livepeer_ai.registry.models import EntryStatus, ModelEntry, NsfwLevel

# A family a check may be told instead of the detected one: the same weights, run differently.
FAMILY_OVERRIDES = {"sdxl": {"sdxl-turbo"}, "sdxl-turbo": {"sdxl"}}


class Command(BaseCommand):
    help = (
        "Check a diffusers folder or a .safetensors checkpoint (it loads, its family, its memory) and propose it "
        "to the registry as pending entries, one per pipeline its family serves, for an admin to approve."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A diffusers folder, or an SD 1.x / SDXL single-file .safetensors checkpoint.")
        parser.add_argument("--model-id", required=True, help="The id callers will name, e.g. myorg/my-sdxl-finetune.")
        parser.add_argument("--family", default="", help="Override the detected family (only sdxl ↔ sdxl-turbo).")
        parser.add_argument("--pipeline", action="append", default=[], help="Only these pipelines (repeatable).")
        parser.add_argument(
            "--config",
            default="",
            help="Single files: a diffusers folder of the same architecture to take configs from.",
        )
        parser.add_argument(
            "--output", default="", help="Single files: the folder to write (default: MODELS_DIR/<model id>)."
        )
        parser.add_argument(
            "--device", default=None, help="Where to check it: cpu, cuda, cuda:1 … (default: CUDA if present)."
        )
        parser.add_argument("--licence", default="")
        parser.add_argument("--commercial-use", action="store_true", help="The licence allows commercial use.")
        parser.add_argument("--nsfw-level", default=NsfwLevel.SAFE, choices=NsfwLevel.values)
        parser.add_argument("--max-side", type=int, default=1024)
        parser.add_argument("--pinned-revision", default="")
        parser.add_argument("--proposed-by", default="", help="Username of the operator proposing it (default: none).")
        parser.add_argument("--note", default="", help="Why the network should run it (kept in the audit trail).")

    def handle(self, *args: Any, **options: Any) -> None:
        from livepeer_ai.pipelines import model_check

        model_check.offline()
        model_id = options["model_id"].strip()
        path = Path(options["path"]).expanduser().resolve()
        proposer = self.proposer(options["proposed_by"])
        try:
            folder, family, converted_from = self.prepare(path, model_id, options)
            checked = model_check.check_model(folder, family, options["device"], converted_from)
        except model_check.ModelRefused as exc:
            raise CommandError(str(exc)) from None
        pipelines = self.pipelines(checked.pipelines, options["pipeline"])
        self.refuse_existing(pipelines, model_id)
        fields = {
            "model_id": model_id,
            "family": family,
            "local_path": checked.local_path,
            "licence": options["licence"],
            "commercial_use": options["commercial_use"],
            "nsfw_level": options["nsfw_level"],
            "max_side": options["max_side"],
            "memory_mb": checked.memory_mb,
            "pinned_revision": options["pinned_revision"],
        }
        source = f"; converted from {converted_from}" if converted_from else ""
        note = (
            f"Checked by propose_model: loads as {family}, {checked.memory_mb} MiB ({checked.measured_on}){source}. "
            + options["note"]
        ).strip()
        with transaction.atomic():
            entries = [self.create({**fields, "pipeline": pipeline}, proposer, note) for pipeline in pipelines]
        for entry in entries:
            self.stdout.write(
                f"proposed {entry.pipeline:16} {entry.model_id} ({family}, {entry.memory_mb} MiB, {checked.measured_on}) "
                f"{entry.local_path}: pending; an admin approves it at {entry.get_absolute_url()}"
            )

    def prepare(self, path: Path, model_id: str, options: dict[str, Any]) -> tuple[Path, str, str]:
        """The folder to register, its family, and the single file it was converted from (if it was)."""
        from livepeer_ai.pipelines import model_check

        if path.is_dir():
            return path, self.family(model_check.detect_family(path), options["family"]), ""
        if path.is_file() and path.suffix == ".safetensors":
            detected = model_check.single_file_family(path)
            config = Path(options["config"]).expanduser() if options["config"] else self.config_folder(detected)
            output = Path(options["output"]).expanduser() if options["output"] else self.output_folder(model_id)
            model_check.convert_single_file(path, config, output.resolve(), detected)
            return output.resolve(), self.family(model_check.detect_family(output), options["family"]), str(path)
        raise CommandError(f"{path} is neither a diffusers folder nor a .safetensors file.")

    def family(self, detected: str, wanted: str) -> str:
        if not wanted or wanted == detected:
            return detected
        if wanted not in FAMILY_OVERRIDES.get(detected, set()):
            raise CommandError(f"The model is {detected}; it cannot be proposed as {wanted}.")
        return wanted

    def config_folder(self, family: str) -> Path:
        """A registered diffusers folder of the same family, whose component configs the single file takes."""
        for local_path in (
            ModelEntry.objects.filter(family=family).exclude(local_path="").values_list("local_path", flat=True)
        ):
            if (Path(local_path) / "model_index.json").exists():
                return Path(local_path)
        raise CommandError(f"No registered {family} diffusers folder to take configs from: give --config.")

    def output_folder(self, model_id: str) -> Path:
        return Path(settings.MODELS_DIR) / re.sub(r"[^A-Za-z0-9._-]+", "--", model_id).strip("-.")

    def pipelines(self, served: tuple[str, ...], wanted: list[str]) -> list[str]:
        unknown = [pipeline for pipeline in wanted if pipeline not in served]
        if unknown:
            raise CommandError(f"This model serves {', '.join(served)}; not {', '.join(unknown)}.")
        return wanted or list(served)

    def refuse_existing(self, pipelines: list[str], model_id: str) -> None:
        for pipeline in pipelines:
            existing = ModelEntry.objects.filter(pipeline=pipeline, model_id=model_id).first()
            if existing is not None:
                raise CommandError(f"{existing} is already in the registry ({existing.get_status_display().lower()}).")

    def proposer(self, username: str) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not curation.can_propose(user):
            raise CommandError(f"{username} may not propose models: only operators and admins may.")
        return user

    def create(self, fields: dict[str, Any], proposer: Any, note: str) -> ModelEntry:
        try:
            if proposer is not None:
                return curation.propose(proposer, fields, note=note)
            # Run on the node's machine by its operator, for the network: pending all the same.
            return curation.register(fields, status=EntryStatus.PENDING, note=note)
        except curation.CurationError as exc:
            raise CommandError(str(exc)) from None
