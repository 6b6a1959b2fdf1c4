"""Fill a database with made-up dashboard history (`bench.dashboard_seeding`), from the command line.

    .venv/bin/python -m bench.seed_dashboard --jobs 10000 --tickets 100000 --nodes 2

Writes to the database `DATABASE_URL` names, as `manage.py` would; the browser
tests and the screenshots seed the dashboard's history this way. Not for
production data.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence


def _at_least(minimum: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return whole_number


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=_at_least(0), default=10_000)
    parser.add_argument("--tickets", type=_at_least(0), default=100_000)
    parser.add_argument("--nodes", type=int, default=2, help="1 to 4 (anvil's development accounts 1…)")
    parser.add_argument("--days", type=_at_least(1), default=30)
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
    import django

    django.setup()
    from bench.dashboard_seeding import seed

    try:
        report = seed(args.jobs, args.tickets, args.nodes, args.days, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"seeded {report.jobs} jobs ({report.attempts} stage attempts) and {report.tickets} tickets "
        f"for {len(report.nodes)} nodes in {report.seconds:.1f} s: {', '.join(report.nodes)}"
    )


if __name__ == "__main__":
    main()
