"""The payments benchmark's measurements: tickets signed and verified per second on one
core, and the gas of each kind of redemption on anvil (`bench.payments` writes the report).

Throughput: a child process pinned to one CPU signs tickets as a gateway does (protocol
§3.3) and verifies them as an orchestrator does (§3.2). Gas: receipts from a private
anvil, redemptions submitted by a relayer.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from eth_account import Account
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from livepeer_ai.payments.anvil import DEFAULT_PRIVATE_KEYS
from livepeer_ai.payments.chain import Chain
from livepeer_ai.payments.ticket_value import (
    DEFAULT_REDEEM_GAS,
    DEFAULT_TICKET_EV,
    tx_cost,
    uncapped_face_value,
    win_probability,
)
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
# go-livepeer's redeemGas on L2 (Arbitrum), the node's default, and on L1.
LIVEPEER_L2_REDEEM_GAS = DEFAULT_REDEEM_GAS
LIVEPEER_L1_REDEEM_GAS = 350_000
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


# The face value go-livepeer would set at Livepeer's L2 redeemGas and 0.1 gwei.
BENCH_FACE_VALUE = uncapped_face_value(tx_cost(LIVEPEER_L2_REDEEM_GAS, GAS_PRICES_WEI[0]))


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
        win_prob=win_probability(BENCH_FACE_VALUE, DEFAULT_TICKET_EV),
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
