"""`manage.py run_engine`: one job-engine process (gateway/engine.py). Run as many as the load needs."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from livepeer_ai.gateway.engine import Engine
from livepeer_ai.service_command import ServiceCommand


class Command(ServiceCommand):
    help = "Dispatch the gateway queue to free orchestrator slots and stream the stages (one engine process)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", default="", help="worker name (default: host:pid:random)")
        parser.add_argument("--max-stages", type=int, default=None, help="stages streamed at once (ENGINE_MAX_STAGES)")
        parser.add_argument("--stats-file", default="", help="write statement and stage counts here every second")

    def handle(self, *args: Any, name: str, max_stages: int | None, stats_file: str, **options: Any) -> None:
        engine = Engine(name=name, max_stages=max_stages, stats_file=stats_file)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                # Stopping hands the running stages back to the queue at once, for the other engines.
                loop.add_signal_handler(signum, engine.stop)
            await engine.run()

        self.stdout.write(f"engine {engine.name} starting")
        asyncio.run(main())
        self.stdout.write(f"engine {engine.name} stopped")
