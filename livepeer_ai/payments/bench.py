"""Payments benchmark: tickets per second on one core, redemption gas on anvil, and
Livepeer's redeem-gas assumption beside the measurement, written as Markdown.

    .venv/bin/python -m livepeer_ai.payments.bench --output docs/benchmarks/payments.md

Throughput: a child process pinned to one CPU signs tickets as a gateway does (docs/protocol.md
§3.3) and verifies them as an orchestrator does (§3.2). Gas: receipts from a private
anvil, redemptions submitted by a relayer. Comparison: txCost and faceValue (§3.2) for
Livepeer's 1.2M (L2) and 350k (L1) redeemGas and for the measured figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

from eth_account import Account
from eth_keys import KeyAPI
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from livepeer_ai.payments.anvil import DEFAULT_PRIVATE_KEYS, Anvil
from livepeer_ai.payments.chain import Chain
from livepeer_ai.payments.tickets import (
    MAX_WIN_PROB,
    Ticket,
    aux_data_for,
    is_winning_ticket,
    recipient_rand_hash,
    recover_ticket_signer,
    sign_ticket_hash,
    ticket_hash,
)

GWEI = 10**9
# docs/protocol.md §3.2: go-livepeer's redeemGas on L2 (Arbitrum) and on L1, its -ticketEV
# default, and the ×100 factors of faceValue = max(txCost×100, EV×100).
LIVEPEER_L2_REDEEM_GAS = 1_200_000
LIVEPEER_L1_REDEEM_GAS = 350_000
DEFAULT_TICKET_EV_WEI = 8 * GWEI
TX_COST_MULTIPLIER = 100
EV_MULTIPLIER = 100
# Arbitrum-like and a low L1 gas price.
GAS_PRICES_WEI = (GWEI // 10, GWEI)

DEFAULT_TICKETS = 2000
DEFAULT_REPETITIONS = 5
DEFAULT_BATCH_SIZES = (1, 5, 10, 20, 64)
WARM_UP_TICKETS = 20

# Long enough that the whole run stays in the round the deployment initializes,
# so every ticket's creation round is current (§3.4 validity).
BENCH_ROUND_LENGTH_BLOCKS = 1_000_000
DEPLOYER_KEY = DEFAULT_PRIVATE_KEYS[0]
ORCHESTRATOR_KEY = DEFAULT_PRIVATE_KEYS[2]
DEPOSIT_SENDER_KEY = DEFAULT_PRIVATE_KEYS[6]
RESERVE_SENDER_KEY = DEFAULT_PRIVATE_KEYS[7]
RELAYER_KEY = DEFAULT_PRIVATE_KEYS[9]
ORCHESTRATOR_STAKE_WEI = 10**18


def tx_cost(redeem_gas: int, gas_price_wei: int) -> int:
    """txCost = redeemGas × gasPrice (docs/protocol.md §3.2)."""
    return redeem_gas * gas_price_wei


def face_value_for(tx_cost_wei: int, ticket_ev_wei: int = DEFAULT_TICKET_EV_WEI) -> int:
    """faceValue = max(txCost×100, EV×100), before the maxFloat cap (docs/protocol.md §3.2)."""
    return max(tx_cost_wei * TX_COST_MULTIPLIER, ticket_ev_wei * EV_MULTIPLIER)


def win_prob_for(face_value: int, ticket_ev_wei: int = DEFAULT_TICKET_EV_WEI) -> int:
    """winProb = EV × ceil((2^256−1)/faceValue) (docs/protocol.md §3.2)."""
    return ticket_ev_wei * -(-MAX_WIN_PROB // face_value)


# The face value go-livepeer would set at Livepeer's L2 redeemGas and 0.1 gwei.
BENCH_FACE_VALUE = face_value_for(tx_cost(LIVEPEER_L2_REDEEM_GAS, GAS_PRICES_WEI[0]))


def _address(private_key: str) -> str:
    return str(Account.from_key(private_key).address)


# Ticket throughput


@dataclasses.dataclass(frozen=True)
class Throughput:
    tickets: int
    cpu: int | None  # the CPU the measuring process was pinned to; None where it could not be
    load_average: tuple[float, float]  # 1-minute load average at the start and at the end
    # One per repetition: tickets per CPU-second of the (single-threaded) measuring
    # process, which other load on the machine barely moves, and per wall-clock second.
    sign_rates: list[float]
    verify_rates: list[float]
    sign_wall_rates: list[float]
    verify_wall_rates: list[float]


# The recipient's secret for the throughput tickets; any value will do (§3.2).
THROUGHPUT_RECIPIENT_RAND = 0xB0B


def _ticket_template(sender: str, recipient: str) -> Ticket:
    """The params a gateway's batch of tickets shares (docs/protocol.md §3.3), at a realistic face value and winProb."""
    return Ticket(
        recipient=recipient,
        sender=sender,
        face_value=BENCH_FACE_VALUE,
        win_prob=win_prob_for(BENCH_FACE_VALUE),
        sender_nonce=0,
        recipient_rand_hash=recipient_rand_hash(THROUGHPUT_RECIPIENT_RAND),
        aux_data=aux_data_for(1, bytes(range(32))),
    )


def _sign_tickets(count: int, first_nonce: int, sender_key: str, template: Ticket) -> list[tuple[Ticket, bytes]]:
    signed = []
    for nonce in range(first_nonce, first_nonce + count):
        # replace() builds a new Ticket, __post_init__ validation included.
        ticket = dataclasses.replace(template, sender_nonce=nonce)
        signed.append((ticket, sign_ticket_hash(ticket_hash(ticket), sender_key)))
    return signed


def _verify_tickets(signed: list[tuple[Ticket, bytes]], recipient_rand: int) -> int:
    """What an orchestrator does per received ticket (docs/protocol.md §3.2); returns the winners."""
    winners = 0
    for ticket, signature in signed:
        if recover_ticket_signer(ticket_hash(ticket), signature) != ticket.sender:
            raise RuntimeError(f"ticket {ticket.sender_nonce} does not recover to its sender")
        if recipient_rand_hash(recipient_rand) != ticket.recipient_rand_hash:
            raise RuntimeError(f"ticket {ticket.sender_nonce} has a foreign recipientRandHash")
        winners += is_winning_ticket(signature, recipient_rand, ticket.win_prob)
    return winners


def _pin_to_one_cpu() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _throughput_in_child(tickets: int, repetitions: int) -> Throughput:
    cpu = _pin_to_one_cpu()
    sender_key = DEPOSIT_SENDER_KEY
    template = _ticket_template(_address(sender_key), _address(ORCHESTRATOR_KEY))
    _verify_tickets(_sign_tickets(WARM_UP_TICKETS, 0, sender_key, template), THROUGHPUT_RECIPIENT_RAND)
    load_at_start = os.getloadavg()[0]
    rates: dict[str, list[float]] = {"sign": [], "verify": [], "sign_wall": [], "verify_wall": []}
    for repetition in range(repetitions):
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        signed = _sign_tickets(tickets, WARM_UP_TICKETS + repetition * tickets, sender_key, template)
        cpu_signed, wall_signed = time.process_time(), time.perf_counter()
        _verify_tickets(signed, THROUGHPUT_RECIPIENT_RAND)
        cpu_verified, wall_verified = time.process_time(), time.perf_counter()
        rates["sign"].append(tickets / (cpu_signed - cpu_started))
        rates["verify"].append(tickets / (cpu_verified - cpu_signed))
        rates["sign_wall"].append(tickets / (wall_signed - wall_started))
        rates["verify_wall"].append(tickets / (wall_verified - wall_signed))
    return Throughput(
        tickets=tickets,
        cpu=cpu,
        load_average=(load_at_start, os.getloadavg()[0]),
        sign_rates=rates["sign"],
        verify_rates=rates["verify"],
        sign_wall_rates=rates["sign_wall"],
        verify_wall_rates=rates["verify_wall"],
    )


def measure_ticket_throughput(tickets: int = DEFAULT_TICKETS, repetitions: int = DEFAULT_REPETITIONS) -> Throughput:
    """Sign, then verify, `tickets` tickets `repetitions` times in a fresh process on one CPU."""
    # spawn, not fork: a clean interpreter whose every thread lives on the pinned CPU.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_throughput_in_child, tickets, repetitions).result(timeout=3600)


# Redemption gas


@dataclasses.dataclass(frozen=True)
class GasSample:
    label: str
    tickets: int
    batch: bool
    gas_used: list[int]  # one per repetition, from the receipts
    calldata_bytes: int

    @property
    def median_gas(self) -> int:
        return int(statistics.median_low(self.gas_used))

    @property
    def gas_per_ticket(self) -> int:
        return self.median_gas // self.tickets


@dataclasses.dataclass
class _Bench:
    chain: Chain
    broker: Contract
    aux_data: bytes
    next_nonce: int = 1

    def sign(self, sender_key: str) -> tuple[Ticket, bytes, int]:
        # winProb 2^256−1 so every ticket wins: a realistic winProb (§3.2) would need
        # ~faceValue/EV signatures per winner; its calldata is a few zero bytes cheaper.
        nonce, self.next_nonce = self.next_nonce, self.next_nonce + 1
        rand = 0xC0FFEE + nonce
        ticket = Ticket(
            recipient=_address(ORCHESTRATOR_KEY),
            sender=_address(sender_key),
            face_value=BENCH_FACE_VALUE,
            win_prob=MAX_WIN_PROB,
            sender_nonce=nonce,
            recipient_rand_hash=recipient_rand_hash(rand),
            aux_data=self.aux_data,
        )
        return ticket, sign_ticket_hash(ticket_hash(ticket), sender_key), rand

    def redeem(self, tickets: list[tuple[Ticket, bytes, int]], batch: bool) -> TxReceipt:
        if batch:
            function = self.broker.functions.batchRedeemWinningTickets(
                [ticket.as_contract_tuple() for ticket, _, _ in tickets],
                [signature for _, signature, _ in tickets],
                [rand for _, _, rand in tickets],
            )
        else:
            [(ticket, signature, rand)] = tickets
            function = self.broker.functions.redeemWinningTicket(ticket.as_contract_tuple(), signature, rand)
        recipient = _address(ORCHESTRATOR_KEY)
        before = self.chain.balance_of(recipient)
        receipt = self.chain.transact(function, RELAYER_KEY)
        redeemed = self.broker.events.WinningTicketRedeemed().process_receipt(receipt, errors=DISCARD)
        paid = self.chain.balance_of(recipient) - before
        if len(redeemed) != len(tickets) or paid != BENCH_FACE_VALUE * len(tickets):
            raise RuntimeError(f"{len(redeemed)}/{len(tickets)} tickets redeemed, {paid} wei paid")
        return receipt

    def calldata_bytes(self, receipt: TxReceipt) -> int:
        return len(self.chain.w3.eth.get_transaction(receipt["transactionHash"])["input"])


def _deploy(chain: Chain, tickets_from_deposit: int, tickets_from_reserve: int) -> _Bench:
    addresses = chain.deploy_payments(DEPLOYER_KEY, round_length_blocks=BENCH_ROUND_LENGTH_BLOCKS)
    registry, broker = chain.registry(addresses.registry), chain.ticket_broker(addresses.ticket_broker)
    uri = "https://bench.orchestrator.test:8935"
    chain.transact(registry.functions.register(uri), ORCHESTRATOR_KEY, ORCHESTRATOR_STAKE_WEI)
    # One face value more than the tickets need: the redemption that empties a
    # balance gets a storage-clearing refund no steady-state redemption sees.
    deposit = BENCH_FACE_VALUE * (tickets_from_deposit + 1)
    # A reserve beside the deposit, as a real sender has; these tickets never reach it.
    fund = broker.functions.fundDepositAndReserve(deposit, BENCH_FACE_VALUE)
    chain.transact(fund, DEPOSIT_SENDER_KEY, deposit + BENCH_FACE_VALUE)
    # No deposit at all: every ticket of this sender is paid from its reserve (§3.4).
    chain.transact(broker.functions.fundReserve(), RESERVE_SENDER_KEY, BENCH_FACE_VALUE * (tickets_from_reserve + 1))
    chain.ensure_round_initialized(addresses.registry, RELAYER_KEY)
    creation_round = int(registry.functions.lastInitializedRound().call())
    block_hash = bytes(registry.functions.blockHashForRound(creation_round).call())
    return _Bench(chain, broker, aux_data_for(creation_round, block_hash))


def measure_redemption_gas(
    chain: Chain, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES, repetitions: int = DEFAULT_REPETITIONS
) -> list[GasSample]:
    """gasUsed of redeemWinningTicket (from deposit, from reserve) and of batches, on fresh contracts."""
    bench = _deploy(chain, repetitions * (1 + sum(batch_sizes)), repetitions + 1)

    def run(label: str, sender_key: str, size: int, batch: bool, count: int) -> GasSample:
        receipts = [bench.redeem([bench.sign(sender_key) for _ in range(size)], batch) for _ in range(count)]
        gas_used = [int(receipt["gasUsed"]) for receipt in receipts]
        return GasSample(label, size, batch, gas_used, bench.calldata_bytes(receipts[0]))

    return [
        run("redeemWinningTicket, paid from deposit", DEPOSIT_SENDER_KEY, 1, False, repetitions),
        # The first claim of a round writes the round's claim counters from zero; later ones update them.
        run("redeemWinningTicket, paid from reserve, first claim this round", RESERVE_SENDER_KEY, 1, False, 1),
        run("redeemWinningTicket, paid from reserve, later claim", RESERVE_SENDER_KEY, 1, False, repetitions),
        *(
            run(f"batchRedeemWinningTickets × {size}, from deposit", DEPOSIT_SENDER_KEY, size, True, repetitions)
            for size in batch_sizes
        ),
    ]


# Report


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
        "go-livepeer prices a ticket so that redeeming a winner costs at most 1 % of its face value: txCost = "
        "redeemGas × gasPrice and faceValue = max(txCost×100, EV×100), before the maxFloat cap, with redeemGas "
        f"{LIVEPEER_L2_REDEEM_GAS} on L2 and {LIVEPEER_L1_REDEEM_GAS} on L1 and EV {DEFAULT_TICKET_EV_WEI} wei "
        "(`-ticketEV` default) (docs/protocol.md §3.2). 0.1 gwei is an Arbitrum-like gas price, 1 gwei a low L1 one. "
        "All values are integer wei.",
        "",
        f"| redeemGas from | redeemGas | {price_headers} |",
        "|---|---|" + "---|---|" * len(GAS_PRICES_WEI),
    ]
    for source, redeem_gas in rows:
        cells = " | ".join(
            f"{tx_cost(redeem_gas, price)} | {face_value_for(tx_cost(redeem_gas, price))}" for price in GAS_PRICES_WEI
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
        f"{BENCH_FACE_VALUE} wei (1.2M gas at 0.1 gwei, ×100), a gateway sends about "
        f"{BENCH_FACE_VALUE // DEFAULT_TICKET_EV_WEI} tickets of EV {DEFAULT_TICKET_EV_WEI} wei per winner.",
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
    return shlex.join([str(executable), "-m", "livepeer_ai.payments.bench", *argv])


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
