from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from eth_account.signers.local import LocalAccount

from livepeer_ai.orchestrator.children import NodeAlreadyRunning, Pidfile
from livepeer_ai.orchestrator.config import ConfigError, NodeConfig, load_config
from livepeer_ai.orchestrator.curation import RegistryApprovals
from livepeer_ai.orchestrator.identity import load_identity
from livepeer_ai.orchestrator.node import Node, create_node_app
from livepeer_ai.orchestrator.payment import OffchainPayments, OnchainPayments, PaymentProcessor
from livepeer_ai.orchestrator.supervisor import Supervisor
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.chain import ChainError
from livepeer_ai.payments.receipts import model_revision
from livepeer_ai.payments.recipient import Recipient
from livepeer_ai.registry.models import ModelEntry
from livepeer_ai.service_command import ServiceCommand


class Command(ServiceCommand):
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
        pidfile = Pidfile(Path(settings.VAR_DIR) / "run" / f"{name}.json")
        try:
            # Runners a node of this name left behind (killed hard) hold memory and ports: gone first.
            pidfile.reap_previous()
        except NodeAlreadyRunning as exc:
            raise CommandError(str(exc)) from None
        supervisor = Supervisor(node_config, memory_mb, Path(settings.VAR_DIR) / "logs" / name, pidfile)
        node = Node(
            node_config,
            account,
            supervisor,
            self.payments(node_config, account),
            chain_id=settings.CHAIN_ID,
            model_revisions=revisions,
            # Sells only what the registry approves, re-read every registry_refresh_s.
            approvals=RegistryApprovals([c.key for c in node_config.capabilities], node_config.registry_refresh_s),
        )
        mode = "on chain" if settings.WEB3_PROVIDER_URI else "off chain"
        self.stdout.write(f"orchestrator {account.address} serving {node_config.service_uri} ({mode})")
        uvicorn.run(
            create_node_app(node),
            host=node_config.host,
            port=node_config.port,
            log_level="info",
            timeout_graceful_shutdown=10,
        )

    def payments(self, node_config: NodeConfig, account: LocalAccount) -> PaymentProcessor:
        """Tickets on chain when WEB3_PROVIDER_URI is set, else go-livepeer's off-chain mode."""
        if not settings.WEB3_PROVIDER_URI:
            return OffchainPayments()
        try:
            broker = Broker.from_settings()
        except ChainError as exc:
            raise CommandError(str(exc)) from None
        recipient = Recipient.with_new_secret(
            account.address,
            broker,
            ticket_ev=node_config.ticket_ev,
            redeem_gas=node_config.redeem_gas,
            tx_cost_multiplier=node_config.tx_cost_multiplier,
        )
        return OnchainPayments(recipient, account.key.hex())
