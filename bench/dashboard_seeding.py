"""Data at scale for the dashboard's benchmark and query-count tests: jobs, stage attempts and
tickets spread over the last 30 days for a few nodes, inserted in bulk.

`python -m bench.seed_dashboard` runs `seed` from the command line.

Deterministic for a given `rng_seed`, but for the tickets' unique hashes. Not for a
production database: the rows are made up (though shaped like the real ones), and
the service URIs end in `.invalid` so nothing ever tries to reach them.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from eth_account import Account

from dashboard.models import NodeSnapshot, Operator
from livepeer_ai.gateway.models import AttemptOutcome, Job, JobStatus, Orchestrator, StageAttempt
from livepeer_ai.payments.earnings import rebuild
from livepeer_ai.payments.models import ReceivedTicket, RedemptionStatus
from livepeer_ai.protocol.units import fee_wei, manifest_id

# anvil's development accounts 1… (the demo's nodes and the test personas' keys come first).
NODE_KEYS = (
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
)
SENDERS = ("0x90F79bf6EB2c4f870365E785982E1f101E93b906", "0x976EA74026E726554dB657fA54763abd0C3a0aa9")
# (pipeline, model, units, steps, typical seconds) of each workflow stage.
STAGES = (
    ("text-to-image", "livepeer-ai/tiny-sdxl-turbo", 512 * 512, 4, 1.2),
    ("image-to-video", "livepeer-ai/tiny-svd-xt", 512 * 512 * 25, 8, 6.0),
    ("upscale", "livepeer-ai/tiny-sd-x4-upscaler", 256 * 256, 4, 2.5),
)
FAILURE_MESSAGES = {500: "GPU out of memory.", 502: "Receipt rejected: output hash mismatch", 504: "runner timed out"}
# What seeded stages pay (the demo's price per pixel), and the ETH/USD rate seeded jobs record.
PRICE_PER_PIXEL = 4_768_371
USD_PER_ETH_E8 = 3000 * 10**8
WIN_ODDS = 200  # about one ticket in two hundred wins, as in the demo
FACE_VALUE = 2 * 10**15
BATCH = 2000


@dataclass
class SeedReport:
    nodes: list[str]
    jobs: int = 0
    attempts: int = 0
    tickets: int = 0
    seconds: float = 0.0
    winners: dict[str, int] = field(default_factory=dict)


@contextmanager
def keep_given_times() -> Iterator[None]:
    """bulk_create stamps `auto_now_add` fields with the current time; seeded tickets need their own
    received_at, and updating 100,000 rows afterwards would take longer than inserting them."""
    received_at = ReceivedTicket._meta.get_field("received_at")
    received_at.auto_now_add = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        received_at.auto_now_add = True  # type: ignore[attr-defined]


def node_info(address: str, uri: str, rng: random.Random) -> dict[str, Any]:
    capabilities = []
    for pipeline, model_id, *_ in STAGES:
        runners = [
            {"id": f"{pipeline}-{n}", "state": "ready" if n else rng.choice(["ready", "restarting"]), "restarts": n}
            for n in range(2)
        ]
        in_use = rng.randint(0, 1)
        capabilities.append(
            {
                "pipeline": pipeline,
                "model_id": model_id,
                "warm": True,
                "capacity": sum(1 for r in runners if r["state"] == "ready"),
                "in_use": in_use,
                "price_per_unit": 4_768_371,
                "pixels_per_unit": 1,
                "runners": [{**r, "in_use": False, "last_error": ""} for r in runners],
                "stats": {"served": rng.randint(100, 999), "insufficient_capacity": rng.randint(0, 50)},
            }
        )
    return {"address": address, "service_uri": uri, "version": "seeded", "capabilities": capabilities}


def seed(jobs: int = 10_000, tickets: int = 100_000, nodes: int = 2, days: int = 30, rng_seed: int = 0) -> SeedReport:
    if not 1 <= nodes <= len(NODE_KEYS):
        raise ValueError(f"nodes must be between 1 and {len(NODE_KEYS)}")
    started = time.monotonic()
    rng = random.Random(rng_seed)
    now = timezone.now()
    addresses = [Account.from_key(key).address for key in NODE_KEYS[:nodes]]
    report = SeedReport(nodes=addresses)
    with transaction.atomic():
        orchestrators = []
        for index, address in enumerate(addresses, start=1):
            uri = f"http://seed-node-{index}.invalid"
            orchestrator, _ = Orchestrator.objects.update_or_create(
                service_uri=uri, defaults={"address": address, "info": node_info(address, uri, rng)}
            )
            NodeSnapshot.objects.update_or_create(
                orchestrator=orchestrator,
                defaults={
                    "reachable": True,
                    "info": orchestrator.info,
                    "stake": (nodes - index + 1) * 10**18,
                    "active": True,
                },
            )
            Operator.for_address(address)
            orchestrators.append(orchestrator)
        report.jobs, report.attempts = seed_jobs(jobs, orchestrators, now, days, rng)
        report.tickets = seed_tickets(tickets, addresses, now, days, rng)
        rebuild(addresses)
    report.winners = {
        address: ReceivedTicket.objects.filter(recipient=address, winning=True).count() for address in addresses
    }
    report.seconds = time.monotonic() - started
    return report


def seed_jobs(
    count: int, orchestrators: list[Orchestrator], now: datetime, days: int, rng: random.Random
) -> tuple[int, int]:
    attempts_made = 0
    for first in range(0, count, BATCH):
        batch_jobs, batch_attempts = [], []
        for _ in range(first, min(first + BATCH, count)):
            created = now - timedelta(seconds=rng.uniform(0, days * 86400))
            stages = [s for s in STAGES if s[0] != "upscale" or rng.random() < 0.3]
            job = Job(
                prompt="seeded job",
                stages=[s[0] for s in stages],
                status=JobStatus.SUCCEEDED,
                stage_index=len(stages) - 1,
                created_at=created,
                started_at=created,
                finished_at=created + timedelta(seconds=20),
                usd_per_eth_e8=USD_PER_ETH_E8,
                usd_rate_source="configured",
            )
            batch_jobs.append(job)
            for pipeline, model_id, units, steps, typical_s in stages:
                node = rng.choice(orchestrators)
                roll = rng.random()
                if roll < 0.04:
                    # Refused for capacity, then served by another node.
                    batch_attempts.append(attempt(job, node, pipeline, model_id, units, steps, created, rng, 503))
                    node = rng.choice(orchestrators)
                if 0.04 <= roll < 0.07:
                    code = rng.choice(list(FAILURE_MESSAGES))
                    batch_attempts.append(attempt(job, node, pipeline, model_id, units, steps, created, rng, code))
                took = rng.lognormvariate(0, 0.35) * typical_s
                batch_attempts.append(attempt(job, node, pipeline, model_id, units, steps, created, rng, 200, took))
        Job.objects.bulk_create(batch_jobs, batch_size=BATCH)
        StageAttempt.objects.bulk_create(batch_attempts, batch_size=BATCH)
        attempts_made += len(batch_attempts)
    return count, attempts_made


def attempt(
    job: Job,
    node: Orchestrator,
    pipeline: str,
    model_id: str,
    units: int,
    steps: int,
    at: datetime,
    rng: random.Random,
    status: int,
    took_s: float | None = None,
) -> StageAttempt:
    outcome = {200: AttemptOutcome.SUCCEEDED, 503: AttemptOutcome.NO_CAPACITY}.get(status, AttemptOutcome.FAILED)
    return StageAttempt(
        job=job,
        stage=pipeline,
        orchestrator=node,
        pipeline=pipeline,
        model_id=model_id,
        units=units,
        steps=steps,
        outcome=outcome,
        status_code=None if status == 200 else status,
        message="insufficient capacity" if status == 503 else FAILURE_MESSAGES.get(status, ""),
        started_at=at,
        took_s=took_s if took_s is not None else rng.uniform(0.05, 3.0),
        # Only a stage that succeeded is charged (gateway/dispatch.py).
        fee_wei=fee_wei(units, PRICE_PER_PIXEL, 1) if outcome == AttemptOutcome.SUCCEEDED else None,
    )


def seed_tickets(count: int, recipients: list[str], now: datetime, days: int, rng: random.Random) -> int:
    # Unique columns draw from their own generator, seeded afresh per call: seeding a database
    # twice, with the same seed or not, never repeats a ticket hash or a (recipientRandHash, nonce).
    unique = random.Random(secrets.randbits(64))
    params_prefix = unique.getrandbits(64)
    with keep_given_times():
        for first in range(0, count, BATCH):
            rows = []
            for index in range(first, min(first + BATCH, count)):
                received = now - timedelta(seconds=rng.uniform(0, days * 86400))
                face_value = FACE_VALUE + rng.randrange(10**12)
                winning = rng.randrange(WIN_ODDS) == 0
                status, redeemed_at, tx_hash, gas = RedemptionStatus.NOT_WINNING, None, "", None
                if winning:
                    status = rng.choices(
                        [
                            RedemptionStatus.REDEEMED,
                            RedemptionStatus.PENDING,
                            RedemptionStatus.FAILED,
                            RedemptionStatus.NOT_WORTH_IT,
                        ],
                        weights=[80, 10, 5, 5],
                    )[0]
                    if status == RedemptionStatus.REDEEMED:
                        redeemed_at = min(now, received + timedelta(minutes=rng.uniform(1, 30)))
                        tx_hash = f"0x{rng.getrandbits(256):064x}"
                        gas = rng.randint(80_000, 120_000)
                rows.append(
                    ReceivedTicket(
                        recipient=recipients[index % len(recipients)],
                        sender=SENDERS[index % len(SENDERS)],
                        # Each stage's pipeline in turn, so earnings per GPU-hour have every pipeline.
                        manifest_id=manifest_id(*STAGES[index % len(STAGES)][:2]),
                        face_value=face_value,
                        win_prob=(2**256 - 1) // WIN_ODDS,
                        sender_nonce=index % 500,
                        recipient_rand_hash=f"0x{params_prefix:016x}{index // 500:048x}",
                        recipient_rand=f"0x{rng.getrandbits(256):064x}",
                        aux_data="0x" + "00" * 64,
                        signature="0x" + "00" * 65,
                        ticket_hash=f"0x{unique.getrandbits(256):064x}",
                        expected_value=face_value // WIN_ODDS,
                        usd_per_eth_e8=USD_PER_ETH_E8,
                        usd_rate_source="configured",
                        winning=winning,
                        received_at=received,
                        status=status,
                        tx_hash=tx_hash,
                        gas_used=gas,
                        redeemed_at=redeemed_at,
                    )
                )
            ReceivedTicket.objects.bulk_create(rows, batch_size=BATCH)
    return count
