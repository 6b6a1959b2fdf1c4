"""The fault suite's results as Markdown: the measured table of docs/reliability.md.

    make test-faults                      # writes var/faults/results.json
    .venv/bin/python -m bench.faults_report --results var/faults/results.json --output docs/reliability.md

Only the part of `--output` between the two marker lines is replaced; the rest of
the document (what was tried, how to reproduce) is written by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import median
from typing import Any

BEGIN = "<!-- fault-suite results: begin (bench/faults_report.py writes this part) -->"
END = "<!-- fault-suite results: end -->"


def render(run: dict[str, Any]) -> str:
    results = run["results"]
    lines = [
        f"Run finished {run['finished_at']} on {run['machine']}, {run['cpus']} CPUs; "
        f"database: {results[0]['database'] if results else '?'}; network start-up "
        f"{results[0]['startup_s'] if results else 0:g} s; suite wall time {run['wall_s']:g} s "
        f"(start-up included); load average (1 min) at the end {run['load_average_end'][0]:g}.",
        "",
        "| killed (kill -9) | tries | jobs finished / submitted | stages succeeded once | receipts (one per output) "
        "| units charged / done | attempts by outcome | part back up (s) | recovery (s): median, max | "
        "under target | interrupted stages redone by (s): max | ledgers on chain after it | orphans | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_fault: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_fault.setdefault(result["fault"], []).append(result)
    for fault, tries in by_fault.items():
        recoveries = [t["recovery_s"] for t in tries]
        outcomes: dict[str, int] = {}
        for t in tries:
            for outcome, count in t["attempts"].items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
        target = tries[0]["target_s"]
        redone = [t["redone_s"] for t in tries if t.get("redone_s") is not None]
        interrupted = sum(t.get("interrupted", 0) for t in tries)
        lines.append(
            f"| {fault} (`{tries[0]['killed']}`) | {len(tries)} "
            f"| {sum(t['succeeded'] for t in tries)} / {sum(t['jobs'] for t in tries)} "
            f"| {sum(t['succeeded_attempts'] for t in tries)} / {sum(t['stages'] for t in tries)} "
            f"| {sum(t['receipts'] for t in tries)} "
            f"| {sum(t['units_charged'] for t in tries):,} / {sum(t['units_done'] for t in tries):,} "
            f"| {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))} "
            f"| {max(t['restarted_s'] for t in tries):.1f} "
            f"| {median(recoveries):.1f}, {max(recoveries):.1f} "
            f"| {sum(r < target for r in recoveries)} of {len(tries)} (< {target:g} s) "
            f"| {f'{interrupted}: {max(redone):.1f}' if redone else 'none interrupted'} "
            f"| {ledgers(tries[-1])} "
            f"| {sum(t['orphans'] for t in tries)} "
            f"| {max(t['load_average'] for t in tries):g} |"
        )
    return "\n".join(lines) + "\n"


def ledgers(result: dict[str, Any]) -> str:
    """The nodes' books after the try, counted since the network started (tests/faults/books.py check_ledgers)."""
    if "tickets" not in result:
        return "off chain"
    return (
        f"{result['tickets']} tickets; {result['wei_charged']:,} wei charged for {result['wei_of_work_done']:,} of work"
    )


def replace_between_markers(document: str, table: str) -> str:
    if BEGIN not in document or END not in document:
        raise SystemExit(f"the output has no marker lines:\n{BEGIN}\n{END}")
    head, rest = document.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("var/faults/results.json"))
    parser.add_argument("--output", type=Path, help="a Markdown file with the marker lines (default: print)")
    args = parser.parse_args(argv)
    table = render(json.loads(args.results.read_text()))
    if args.output is None:
        print(table, end="")
    else:
        args.output.write_text(replace_between_markers(args.output.read_text(), table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
