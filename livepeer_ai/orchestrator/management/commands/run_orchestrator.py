from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from livepeer_ai.orchestrator.config import ConfigError, load_config
from livepeer_ai.orchestrator.identity import load_identity
from livepeer_ai.orchestrator.node import Node, create_node_app
from livepeer_ai.orchestrator.payment import OffchainPayments
from livepeer_ai.orchestrator.supervisor import Supervisor
from livepeer_ai.payments.receipts import model_revision
from livepeer_ai.registry.models import ModelEntry


class Command(BaseCommand):
    help = "Run an orchestrator node: supervise its runners and sell their capacity over the runner API."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--config", required=True, help="TOML file (see livepeer_ai/orchestrator/config.py)")

    def handle(self, *args: Any, config: str, **options: Any) -> None:
        import uvicorn

        try:
            node_config = load_config(Path(config))
            account = load_identity(node_config)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        memory_mb, revisions = {}, {}
        for capability in node_config.capabilities:
            entry = ModelEntry.objects.filter(pipeline=capability.pipeline, model_id=capability.model_id).first()
            if entry is None and capability.local:
                raise CommandError(
                    f"No registry entry for {capability.pipeline} {capability.model_id!r}: "
                    "local runners load models from the registry."
                )
            memory_mb[capability.key] = entry.memory_mb if entry else 0
            # What receipts name as the weights' revision; hashing reads the folder once, here.
            revisions[capability.key] = model_revision(entry.local_path if entry else "")
        name = node_config.name or account.address[:10]
        supervisor = Supervisor(node_config, memory_mb, Path(settings.VAR_DIR) / "logs" / name)
        node = Node(
            node_config,
            account,
            supervisor,
            OffchainPayments(),
            chain_id=settings.CHAIN_ID,
            model_revisions=revisions,
        )
        self.stdout.write(f"orchestrator {account.address} serving {node_config.service_uri}")
        uvicorn.run(
            create_node_app(node),
            host=node_config.host,
            port=node_config.port,
            log_level="info",
            timeout_graceful_shutdown=10,
        )
