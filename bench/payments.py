"""Payments benchmark: tickets per second on one core, redemption gas on anvil, and
Livepeer's redeem-gas assumption beside the measurement, written as Markdown.

    .venv/bin/python -m bench.payments --output docs/benchmarks/payments.md

The measurements are `bench.payments_measure`'s. Comparison: txCost and faceValue
(§3.2) for Livepeer's 1.2M (L2) and 350k (L1) redeemGas and for the measured figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

from eth_keys import KeyAPI

from bench.payments_measure import (
    BENCH_FACE_VALUE,
    DEFAULT_BATCH_SIZES,
    DEFAULT_REPETITIONS,
    DEFAULT_TICKETS,
    GAS_PRICES_WEI,
    GWEI,
    LIVEPEER_L1_REDEEM_GAS,
    LIVEPEER_L2_REDEEM_GAS,
    WARM_UP_TICKETS,
    GasSample,
    Throughput,
    measure_redemption_gas,
    measure_ticket_throughput,
)
from livepeer_ai.payments.anvil import Anvil
from livepeer_ai.payments.chain import Chain
from livepeer_ai.payments.ticket_value import DEFAULT_TICKET_EV, TX_COST_MULTIPLIER, tx_cost, uncapped_face_value


@dataclasses.dataclass(frozen=True)
class Environment:
    cpu_count: int
    cpu_model: str
    python: str
    eth_account: str
    eth_keys: str
    ecc_backend: str
    web3: str
    vyper: str
    anvil: str


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(chain: Chain) -> Environment:
    return Environment(
        cpu_count=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        python=platform.python_version(),
        eth_account=version("eth-account"),
        eth_keys=version("eth-keys"),
        ecc_backend=type(KeyAPI().backend).__name__,
        web3=version("web3"),
        vyper=version("vyper"),
        anvil=str(chain.w3.client_version),
    )


def _gwei(wei: int) -> str:
    return str(Decimal(wei) / GWEI)


def comparison_rows(samples: Sequence[GasSample]) -> list[tuple[str, int]]:
    """(source, redeemGas): Livepeer's two assumptions, then each measured single
    redemption and the per-ticket gas of the largest batch."""
    rows = [
        ("Livepeer assumption, L2 (Arbitrum)", LIVEPEER_L2_REDEEM_GAS),
        ("Livepeer assumption, L1", LIVEPEER_L1_REDEEM_GAS),
    ]
    rows += [(f"measured: {sample.label}", sample.median_gas) for sample in samples if not sample.batch]
    largest = max((sample for sample in samples if sample.batch), key=lambda sample: sample.tickets, default=None)
    if largest is not None:
        rows.append((f"measured: {largest.label}, per ticket", largest.gas_per_ticket))
    return rows


def render(throughput: Throughput, samples: Sequence[GasSample], facts: Environment, command: str) -> str:
    pinned = (
        f"pinned to CPU {throughput.cpu} with os.sched_setaffinity"
        if throughput.cpu is not None
        else "single-threaded, not pinned"
    )
    lines = [
        "# Payments benchmarks",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}` (run by `make bench`).",
        "",
        f"Machine: {facts.cpu_count} CPU cores ({facts.cpu_model}), {platform.machine()}. Python {facts.python}, "
        f"eth-account {facts.eth_account}, eth-keys {facts.eth_keys} ({facts.ecc_backend}), web3 {facts.web3}, "
        f"vyper {facts.vyper}, {facts.anvil}.",
        "",
        "## Ticket throughput on one core",
        "",
        f"One child process, {pinned}, after {WARM_UP_TICKETS} warm-up tickets. *Create + sign* is what a gateway "
        "does per ticket: build the `Ticket` (shared params, its own nonce), `ticket_hash`, "
        "`sign_ticket_hash`. *Verify* is what an orchestrator does per received ticket: `ticket_hash`, "
        "`recover_ticket_signer` against the sender, the `recipient_rand_hash` check, `is_winning_ticket`. "
        f"Each repetition signs {throughput.tickets} fresh tickets, then verifies them; the table gives the median "
        f"over {len(throughput.sign_rates)} repetitions. eth-keys' `{facts.ecc_backend}` does the secp256k1 work"
        + (
            " in pure Python (coincurve, its libsecp256k1 backend, is not installed)."
            if facts.ecc_backend == "NativeECCBackend"
            else "."
        ),
        "",
        "Rates are per CPU-second of the measuring process (`time.process_time`), which other work on the machine "
        "barely moves; the wall-clock rate beside them is what it got of the core. The 1-minute load average was "
        f"{throughput.load_average[0]:.1f} at the start and {throughput.load_average[1]:.1f} at the end "
        f"({facts.cpu_count} cores).",
        "",
        "| operation | tickets per repetition | repetitions | median tickets per CPU-second | slowest–fastest | "
        "median CPU µs per ticket | median tickets per wall-clock second |",
        "|---|---|---|---|---|---|---|",
    ]
    for operation, rates, wall_rates in (
        ("create + sign", throughput.sign_rates, throughput.sign_wall_rates),
        ("verify", throughput.verify_rates, throughput.verify_wall_rates),
    ):
        median = statistics.median(rates)
        lines.append(
            f"| {operation} | {throughput.tickets} | {len(rates)} | {median:.0f} | {min(rates):.0f}–{max(rates):.0f} | "
            f"{1e6 / median:.0f} | {statistics.median(wall_rates):.0f} |"
        )
    repetitions = max(len(sample.gas_used) for sample in samples)
    lines += [
        "",
        "## Redemption gas",
        "",
        f"`gasUsed` from the receipts on a fresh anvil ({facts.anvil}): freshly deployed contracts, one registered "
        "orchestrator as every ticket's recipient, a relayer account submitting each transaction (the recipient's "
        f"balance is checked to move by exactly the face value, {BENCH_FACE_VALUE} wei per ticket). Every ticket "
        "wins (winProb 2^256−1), since finding a winner at a realistic winProb takes ~faceValue/EV signatures; a "
        'realistic winProb only has a few more zero bytes of calldata. "From deposit": the sender has a deposit '
        'that covers the ticket. "From reserve": a sender with no deposit, paid from its reserve (docs/protocol.md §3.4); '
        "the first claim of a round writes the round's claim counters from zero. Batches are of one sender's "
        f"winners for one recipient. Median (and range) over {repetitions} transactions per row, except the first "
        "reserve claim, of which a round has one.",
        "",
        "| transaction | tickets | gasUsed (median) | gas per ticket | min gasUsed | max gasUsed | calldata bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for sample in samples:
        lines.append(
            f"| {sample.label} | {sample.tickets} | {sample.median_gas} | {sample.gas_per_ticket} | "
            f"{min(sample.gas_used)} | {max(sample.gas_used)} | {sample.calldata_bytes} |"
        )
    rows = comparison_rows(samples)
    price_headers = " | ".join(
        f"txCost @ {_gwei(price)} gwei (wei) | faceValue @ {_gwei(price)} gwei (wei)" for price in GAS_PRICES_WEI
    )
    lines += [
        "",
        "## Livepeer's redeem-gas assumption beside the measurement",
        "",
        f"go-livepeer prices a ticket so that redeeming a winner costs at most {100 / TX_COST_MULTIPLIER:g} % of "
        f"its face value: txCost = redeemGas × gasPrice and faceValue = max(txCost, EV) × {TX_COST_MULTIPLIER} "
        "(`ticket_value.uncapped_face_value`, the node's own rule), before the maxFloat cap, with redeemGas "
        f"{LIVEPEER_L2_REDEEM_GAS} on L2 and {LIVEPEER_L1_REDEEM_GAS} on L1 and EV {DEFAULT_TICKET_EV} wei "
        "(`-ticketEV` default) (docs/protocol.md §3.2). 0.1 gwei is an Arbitrum-like gas price, 1 gwei a low L1 one. "
        "All values are integer wei.",
        "",
        f"| redeemGas from | redeemGas | {price_headers} |",
        "|---|---|" + "---|---|" * len(GAS_PRICES_WEI),
    ]
    for source, redeem_gas in rows:
        cells = " | ".join(
            f"{tx_cost(redeem_gas, price)} | {uncapped_face_value(tx_cost(redeem_gas, price))}"
            for price in GAS_PRICES_WEI
        )
        lines.append(f"| {source} | {redeem_gas} | {cells} |")
    measured_single = next(gas for source, gas in rows if source.startswith("measured"))
    lines += [
        "",
        f"Livepeer's L2 figure is {LIVEPEER_L2_REDEEM_GAS / measured_single:.1f}× and its L1 figure "
        f"{LIVEPEER_L1_REDEEM_GAS / measured_single:.1f}× the measured single redemption from a deposit. The "
        "measurement is a lower bound for both: this broker pays the recipient with a plain ETH transfer, where "
        "Livepeer's credits fees through `BondingManager.updateTranscoderWithFees` (docs/protocol.md §3.4) and its extra "
        "storage writes, and anvil charges no L1 data fee, which Arbitrum folds into the L2 gas every "
        "redemption is charged. At a face value of "
        f"{BENCH_FACE_VALUE} wei (1.2M gas at 0.1 gwei, ×{TX_COST_MULTIPLIER}), a gateway sends about "
        f"{BENCH_FACE_VALUE // DEFAULT_TICKET_EV} tickets of EV {DEFAULT_TICKET_EV} wei per winner.",
        "",
    ]
    return "\n".join(lines)


def invocation(argv: Sequence[str]) -> str:
    """The command line as typed from the repository root, interpreter included."""
    executable = Path(sys.executable)
    try:
        executable = executable.relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.join([str(executable), "-m", "bench.payments", *argv])


def _batch_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part) for part in text.split(","))
    if not sizes or any(not 1 <= size <= 64 for size in sizes):  # the broker's MAX_BATCH_SIZE
        raise argparse.ArgumentTypeError(f"batch sizes must be integers in [1, 64], got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="docs/benchmarks/payments.md")
    parser.add_argument(
        "--tickets", type=int, default=DEFAULT_TICKETS, help="tickets signed and verified per repetition"
    )
    parser.add_argument("--repetitions", type=int, default=DEFAULT_REPETITIONS)
    parser.add_argument("--batch-sizes", type=_batch_sizes, default=DEFAULT_BATCH_SIZES, help="e.g. 1,5,10,20,64")
    args = parser.parse_args(argv)
    command = invocation(sys.argv[1:] if argv is None else argv)

    # Throughput first, while no anvil competes for the CPU.
    throughput = measure_ticket_throughput(args.tickets, args.repetitions)
    with (
        tempfile.TemporaryDirectory(prefix="payments-bench-") as scratch,
        Anvil(log_path=Path(scratch) / "anvil.log") as node,
    ):
        chain = Chain(node.url)
        samples = measure_redemption_gas(chain, args.batch_sizes, args.repetitions)
        facts = environment(chain)

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(throughput, samples, facts, command))
    print(output.read_text())


if __name__ == "__main__":
    main()
