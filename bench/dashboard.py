"""Dashboard benchmark: render every page at 10,000 jobs and 100,000 tickets, p50/p95, as Markdown.

    .venv/bin/python -m bench.dashboard --output docs/benchmarks/dashboard.md

Runs on a throw-away test database (Django's, like the test suite: a temporary
SQLite file, or test_<name> on PostgreSQL when DATABASE_URL says so), seeded with
`bench.dashboard_seeding`; each page is rendered through Django's test client as its
operator (or an admin, or a visitor) would see it, after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Measured:
    name: str
    queries: int
    runs: int
    p50_ms: float
    p95_ms: float
    note: str = ""


def measure(name: str, render: Callable[[], int], runs: int, note: str = "") -> Measured:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dashboard.performance import percentile

    for _ in range(2):
        render()
    with CaptureQueriesContext(connection) as queries:
        render()
    # Read now: the next request resets the connection's query log the slice is taken from.
    query_count = len(queries.captured_queries)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        render()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return Measured(name, query_count, runs, percentile(times, 0.5) or 0, percentile(times, 0.95) or 0, note)


def run(jobs: int, tickets: int, runs: int) -> tuple[list[Measured], dict[str, str]]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from bench.dashboard_seeding import seed
    from dashboard import live
    from dashboard.models import Operator
    from livepeer_ai.gateway.models import StageAttempt

    report = seed(jobs=jobs, tickets=tickets, nodes=2)
    address = report.nodes[0]
    operator, visitor, admin = Client(), Client(), Client()
    operator.force_login(Operator.for_address(address).user)
    admin.force_login(get_user_model().objects.create_superuser("bench-admin", password="bench-admin-pass"))

    def page(client: Client, url: str, **headers: str) -> Callable[[], int]:
        def render() -> int:
            response = client.get(url, **headers)
            assert response.status_code == 200, (url, response.status_code)
            return len(b"".join(response) if response.streaming else response.content)

        return render

    node = f"/dashboard/nodes/{address}"
    pages = [
        ("Operator page, 7 d (default)", page(operator, f"{node}/"), runs, ""),
        ("Operator page, 24 h", page(operator, f"{node}/?period=24h"), runs, ""),
        ("Operator page, 30 d", page(operator, f"{node}/?period=30d"), runs, ""),
        (
            "Operator page, period switch (htmx fragment)",
            page(operator, f"{node}/?period=30d", HTTP_HX_REQUEST="true"),
            runs,
            "",
        ),
        ("Ticket history, first page", page(operator, f"{node}/tickets/"), runs, "50 per page"),
        (
            "Ticket history, status + date filter",
            page(operator, f"{node}/tickets/?status=redeemed&received_from=2000-01-01"),
            runs,
            "",
        ),
        ("Ticket history, page 900 (deep offset)", page(operator, f"{node}/tickets/?page=900"), runs, ""),
        (
            "Ticket CSV export, all of the node's tickets",
            page(operator, f"{node}/tickets.csv"),
            max(3, runs // 10),
            f"{tickets // 2:,} rows, streamed",
        ),
        ("Network overview (public)", page(visitor, "/network/"), runs, ""),
        (
            "Costs against the cloud (public)",
            page(visitor, "/network/costs/"),
            runs,
            "at most the latest 5,000 paid stages",
        ),
        ("Dashboard index (admin: all nodes)", page(admin, "/dashboard/"), runs, ""),
        (
            "Live capacity fragment (pushed per refresh)",
            lambda: len(live.capacity_fragment(address)),
            runs,
            "rendered once per node per refresh",
        ),
        (
            "Network fragments (pushed per refresh)",
            lambda: len(live.network_fragments()),
            runs,
            "rendered once per refresh",
        ),
    ]
    measured = [measure(name, render, count, note) for name, render, count, note in pages]
    facts = {
        "seeded": f"{report.jobs:,} jobs ({report.attempts:,} stage attempts) and {report.tickets:,} tickets "
        f"for {len(report.nodes)} nodes over 30 days in {report.seconds:.1f} s",
        "attempts": f"{StageAttempt.objects.count():,}",
        "database": f"{connection.vendor} {connection.Database.sqlite_version if connection.vendor == 'sqlite' else ''}".strip(),
    }
    return measured, facts


def markdown(measured: list[Measured], facts: dict[str, str], runs: int) -> str:
    lines = [
        "# Dashboard benchmark",
        "",
        f"Written by `python -m bench.dashboard` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, {facts['database']}.",
        "",
        f"Data: {facts['seeded']} (`bench.dashboard_seeding`). Each page is rendered through Django's test client "
        f"(middleware, session, templates; no network), twice to warm up, then {runs} times "
        "(the CSV export fewer); times are wall-clock per render. Queries are counted on one render and "
        "do not grow with the data (`tests/dashboard/test_scale.py` asserts it).",
        "",
        "| page | queries | p50 (ms) | p95 (ms) | runs | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [f"| {m.name} | {m.queries} | {m.p50_ms:.1f} | {m.p95_ms:.1f} | {m.runs} | {m.note} |" for m in measured]
    lines += [
        "",
        "How the pages stay bounded: earnings come from an hourly rollup (`payments.EarningsHour`, at most 720 rows "
        "per node for 30 days, kept exact where tickets are recorded and redeemed) instead of summing 100,000 "
        "text amounts; job counts and failures are grouped aggregates over an index on (orchestrator, started_at); "
        "latency percentiles read at most 500 recent successes per pipeline (a window function); the ticket "
        "table is one COUNT and one LIMIT/OFFSET query on indexes on (recipient, received_at) and (recipient, "
        "status, received_at); the CSV is read in chunks and streamed. The shared machine this ran on also ran other work, so treat the times as "
        "an upper bound.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, help="write the Markdown here (default: print it)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
    # The test client reads the streamed CSV synchronously (daphne reads it asynchronously), and
    # static files are served from the finders: neither matters to the timings.
    warnings.filterwarnings("ignore", "StreamingHttpResponse must consume")
    warnings.filterwarnings("ignore", "No directory at")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        measured, facts = run(args.jobs, args.tickets, args.runs)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    text = markdown(measured, facts, args.runs)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)


if __name__ == "__main__":
    main()
