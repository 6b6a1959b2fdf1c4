from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from livepeer_ai.payments.anvil import Anvil, AnvilError
from livepeer_ai.service_command import ServiceCommand


class Command(ServiceCommand):
    help = "Run a local anvil chain in the foreground (the demo's chain); Ctrl-C or SIGTERM stops it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8545)
        parser.add_argument(
            "--state", type=Path, default=Path(settings.VAR_DIR) / "anvil-state.json", help="chain state file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        log = Path(settings.VAR_DIR) / "logs" / "anvil.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            anvil = Anvil(port=options["port"], state_path=options["state"], log_path=log).start()
        except AnvilError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"anvil pid {anvil.pid} on {anvil.url} (state {options['state']}, log {log})")
        try:
            stop.wait()
        finally:
            anvil.stop()
