from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.seeding import seed


class Command(BaseCommand):
    help = (
        "Fill the database with made-up jobs, stage attempts and tickets for a few nodes over the last "
        "30 days (bulk inserts), to see and benchmark the dashboard at scale. Not for production data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--jobs", type=int, default=10_000)
        parser.add_argument("--tickets", type=int, default=100_000)
        parser.add_argument("--nodes", type=int, default=2, help="1 to 4 (anvil's development accounts 1…)")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=0, help="random seed")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["jobs"] < 0 or options["tickets"] < 0 or options["days"] < 1:
            raise CommandError("--jobs and --tickets must be ≥ 0 and --days ≥ 1")
        try:
            report = seed(options["jobs"], options["tickets"], options["nodes"], options["days"], options["seed"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"seeded {report.jobs} jobs ({report.attempts} stage attempts) and {report.tickets} tickets "
            f"for {len(report.nodes)} nodes in {report.seconds:.1f} s: {', '.join(report.nodes)}"
        )
