"""Jobs paid with tickets end to end: gateway dispatch → node on chain → runner → redemption.

A real anvil, the real contracts, a node discovered in the registry, real tiny runners.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from eth_account import Account

from livepeer_ai.gateway import engine, queue, workflow
from livepeer_ai.gateway import payment as gateway_payment
from livepeer_ai.gateway.engine import Engine
from livepeer_ai.gateway.models import (
    AttemptOutcome,
    Job,
    JobStatus,
    Orchestrator,
    QueuedStage,
    QueueState,
    StageAttempt,
)
from livepeer_ai.messages import CHAIN_UNAVAILABLE
from livepeer_ai.orchestrator.payment import OnchainPayments, manifest_id
from livepeer_ai.payments import discovery
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.chain import Chain
from livepeer_ai.payments.models import OrchestratorCredit, ReceivedTicket, RedemptionStatus
from livepeer_ai.payments.recipient import Recipient
from livepeer_ai.payments.wire import PAYMENT_ACCEPTED_HEADER
from livepeer_ai.ports import free_port
from tests.conftest import HTTP, orchestrator_node, wait_for
from tests.livepeer_ai.payments.conftest import GATEWAY_KEY, ORCHESTRATOR_A_KEY, address_of

MODEL = "livepeer-ai/tiny-sdxl-turbo"
MANIFEST = manifest_id("text-to-image", MODEL)
# Half the tickets win (face value 2 × EV), so winners come within a few jobs.
EV = 10**15
PRICE_PER_PIXEL = 10**11  # a 64×64 image costs 4.096e14 wei: one ticket per job
FEE = 64 * 64 * PRICE_PER_PIXEL


@pytest.fixture
def paid_node(
    payments: Any, runners: Any, settings: Any, tmp_path: Path, monkeypatch: Any, approved_models: Any
) -> Iterator[Recipient]:
    payments.start_next_round()
    broker = Broker(payments.chain, payments.addresses)
    settings.WEB3_PROVIDER_URI = payments.chain.provider_uri
    settings.TICKET_BROKER_ADDRESS = payments.addresses.ticket_broker
    settings.ORCHESTRATOR_REGISTRY_ADDRESS = payments.addresses.registry
    settings.MAX_TICKET_EV, settings.MAX_TOTAL_EV = 10**16, 10**18
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    settings.QUEUE_MAX_WAIT_S = 5
    monkeypatch.setenv("GATEWAY_PRIVATE_KEY", GATEWAY_KEY)
    gateway_payment.gateway_sender.cache_clear()
    discovery.forget()
    recipient = Recipient.with_new_secret(
        address_of(ORCHESTRATOR_A_KEY), broker, ticket_ev=EV, redeem_gas=100_000, tx_cost_multiplier=2
    )
    node_payments = OnchainPayments(recipient, ORCHESTRATOR_A_KEY, redeem_interval_s=0.2)
    with orchestrator_node(
        {"text-to-image": runners.url("text-to-image")},
        tmp_path / "logs",
        price_per_unit=PRICE_PER_PIXEL,
        payments=node_payments,
        identity=Account.from_key(ORCHESTRATOR_A_KEY),
    ) as url:
        # The registry names where this node serves; the other two registered nodes are unreachable.
        payments.chain.transact(payments.registry.functions.setServiceURI(url), ORCHESTRATOR_A_KEY)
        yield recipient
    gateway_payment.gateway_sender.cache_clear()
    discovery.forget()


def api_job(**fields: Any) -> Job:
    request = {"prompt": "paid", "width": 64, "height": 64, "num_inference_steps": 1, "model_id": MODEL, **fields}
    job = workflow.create_api_job("text-to-image", request, None, None)
    engine.run_job(str(job.id))
    job.refresh_from_db()
    return job


def run_one_stage(request: dict[str, Any], stage_engine: Engine | None = None) -> Job:
    """A text-to-image job's one stage, sent by an engine as it is (no look at the network first)."""
    job = workflow.create_api_job("text-to-image", request, None, None)
    (assignment,) = queue.dispatch("text-to-image", MODEL, "books-test")
    stage_engine = stage_engine or Engine(name="books-test", own_heartbeat=False)

    async def run_stage() -> None:
        stage_engine.client = httpx.AsyncClient(timeout=30)
        try:
            await stage_engine.run_stage(assignment)
        finally:
            await stage_engine.client.aclose()

    async_to_sync(run_stage)()
    job.refresh_from_db()
    return job


def gateway_credit() -> OrchestratorCredit:
    return OrchestratorCredit.objects.get(recipient=address_of(ORCHESTRATOR_A_KEY), manifest_id=MANIFEST)


@pytest.mark.django_db(transaction=True)
def test_paid_job_credits_tickets_and_debits_only_the_completed_work(paid_node):
    job = api_job()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    tickets = list(ReceivedTicket.objects.all())
    assert len(tickets) == 1 and tickets[0].sender == address_of(GATEWAY_KEY)
    ev = int(tickets[0].expected_value)
    # Node and gateway agree: one ticket's EV in, one job's fee out.
    assert paid_node.balance(address_of(GATEWAY_KEY), MANIFEST) == ev - FEE
    assert int(gateway_credit().balance) == ev - FEE
    # The gateway's books keep the fee it charged, for what jobs cost (gateway/costs.py).
    assert [a.fee_wei for a in job.attempts.all()] == [FEE]


@pytest.mark.django_db(transaction=True)
def test_failed_job_leaves_the_senders_credit_unchanged(paid_node):
    first = api_job()
    assert first.status == JobStatus.SUCCEEDED, first.error_message
    before = paid_node.balance(address_of(GATEWAY_KEY), MANIFEST)
    tickets_before = ReceivedTicket.objects.count()
    # Paid for (a fresh ticket tops the credit up to one EV), then refused by the runner.
    failed = api_job(width=60)
    assert failed.status == JobStatus.FAILED and failed.error_code == "runner_400"
    sent = sum(int(t.expected_value) for t in ReceivedTicket.objects.order_by("received_at")[tickets_before:])
    # The tickets' value stays the sender's credit: nothing was charged for the failed work.
    assert sent > 0
    assert paid_node.balance(address_of(GATEWAY_KEY), MANIFEST) == before + sent
    assert int(gateway_credit().balance) == before + sent
    assert [a.fee_wei for a in failed.attempts.all()] == [None]


@pytest.mark.django_db(transaction=True)
def test_winning_tickets_are_redeemed_by_the_node_and_pay_it_on_chain(paid_node, payments):
    address = address_of(ORCHESTRATOR_A_KEY)
    for _ in range(30):
        assert api_job().status == JobStatus.SUCCEEDED
        if ReceivedTicket.objects.filter(winning=True).exists():
            break
    winner = ReceivedTicket.objects.filter(winning=True).first()
    assert winner is not None, "no winning ticket in 30 jobs at win probability 1/2"
    wait_for(
        lambda: ReceivedTicket.objects.get(id=winner.id).status == RedemptionStatus.REDEEMED,
        30,
        "the node's redeemer to redeem the winning ticket",
    )
    winner.refresh_from_db()
    receipt = payments.chain.w3.eth.get_transaction_receipt(winner.tx_hash)
    assert receipt["from"] == address and receipt["status"] == 1
    redeemed = payments.events(receipt, "WinningTicketRedeemed")
    assert redeemed and redeemed[0]["recipient"] == address and redeemed[0]["faceValue"] == int(winner.face_value)


@pytest.mark.django_db(transaction=True)
def test_a_job_the_gateway_will_not_pay_for_fails_with_the_reason_and_suspends_no_node(paid_node, settings):
    # 256×256 at this price needs 6.6e15 wei of tickets: over the gateway's own total limit.
    settings.MAX_TOTAL_EV = 10**15
    job = api_job(width=256, height=256)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "runner_402"), job.error_message
    assert "The gateway will not pay" in job.error_message
    assert StageAttempt.objects.get(job=job).outcome == AttemptOutcome.REJECTED
    assert not Orchestrator.objects.filter(suspended_until__isnull=False).exists()
    assert not Orchestrator.objects.filter(failures_in_row__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_tickets_count_as_sent_only_once_the_node_took_them(paid_node):
    first = api_job()
    assert first.status == JobStatus.SUCCEEDED, first.error_message
    assert gateway_credit().tickets_sent == ReceivedTicket.objects.count() == 1
    node = Orchestrator.objects.get(address=address_of(ORCHESTRATOR_A_KEY))
    # The node's only slot is taken (a paid job of another client of this gateway's account)...
    held = gateway_payment.pay_for_stage(node, "text-to-image", MODEL, 256 * 256)
    body = {"prompt": "hold", "width": 256, "height": 256, "num_inference_steps": 150, "model_id": MODEL}
    headers = {**held.headers, "Accept": "text/event-stream"}
    with HTTP.stream("POST", f"{node.service_uri}/text-to-image", json=body, headers=headers, timeout=120) as hold:
        assert hold.status_code == 200, hold.read()
        assert held.accepted is not None
        held.accepted(hold.headers[PAYMENT_ACCEPTED_HEADER])
        lines = hold.iter_lines()
        assert next(line for line in lines if line.startswith("event: ")) == "event: progress"
        # ...when the gateway, its ledger still showing the slot free, pays a stage there.
        job = run_one_stage({**body, "width": 512, "height": 512})
    attempt = StageAttempt.objects.get(job=job)
    assert (attempt.outcome, attempt.status_code) == (AttemptOutcome.NO_CAPACITY, 503)
    # The refused stage's tickets were signed (nonces spent) but never taken: not in the books.
    assert gateway_credit().tickets_sent == ReceivedTicket.objects.count()
    assert int(gateway_credit().balance) == paid_node.balance(address_of(GATEWAY_KEY), MANIFEST)


@pytest.mark.django_db(transaction=True)
def test_tickets_a_node_credited_before_refusing_the_job_count_as_sent(paid_node):
    first = api_job()
    assert first.status == JobStatus.SUCCEEDED, first.error_message
    # The gateway's copy of the node's /info is stale: the node has raised its price tenfold since.
    node = Orchestrator.objects.get(address=address_of(ORCHESTRATOR_A_KEY))
    for offered in node.info["capabilities"]:
        offered["price_per_unit"] = PRICE_PER_PIXEL // 10
    node.save(update_fields=["info"])
    # Paid at the old price, the node credits the tickets, then refuses: too little balance for its fee.
    body = {"prompt": "stale price", "width": 512, "height": 512, "num_inference_steps": 1, "model_id": MODEL}
    job = run_one_stage(body)
    assert job.status == JobStatus.FAILED and "Insufficient balance" in job.error_message, job.error_message
    assert ReceivedTicket.objects.count() > 1
    # Both ledgers count the refused job's tickets: sent as received, credit as balance.
    assert gateway_credit().tickets_sent == ReceivedTicket.objects.count()
    assert int(gateway_credit().balance) == paid_node.balance(address_of(GATEWAY_KEY), MANIFEST)


@pytest.mark.django_db(transaction=True)
def test_a_chain_outage_suspends_no_node_and_its_stage_waits_for_the_chain(paid_node):
    first = api_job()
    assert first.status == JobStatus.SUCCEEDED, first.error_message
    node = Orchestrator.objects.get(address=address_of(ORCHESTRATOR_A_KEY))
    chain = paid_node.broker
    paid = gateway_payment.pay_for_stage(node, "text-to-image", MODEL, 64 * 64)
    # The node's chain goes down (nothing listens where it looks for it).
    paid_node.broker = Broker(Chain(f"http://127.0.0.1:{free_port()}"), chain.addresses)
    body = {"prompt": "outage", "width": 64, "height": 64, "num_inference_steps": 1, "model_id": MODEL}
    # Both places the node touches the chain answer 503 chain_unavailable: its ticket params...
    params = HTTP.get(
        f"{node.service_uri}/ticket-params",
        params={"sender": address_of(GATEWAY_KEY), "pipeline": "text-to-image", "model_id": MODEL},
    )
    assert (params.status_code, params.json()["detail"]["code"]) == (503, CHAIN_UNAVAILABLE), params.text
    # ...and the tickets of a job paid while it was up.
    refused = HTTP.post(f"{node.service_uri}/text-to-image", json=body, headers=paid.headers, timeout=30)
    assert (refused.status_code, refused.json()["detail"]["code"]) == (503, CHAIN_UNAVAILABLE), refused.text
    stage_engine = Engine(name="books-test", own_heartbeat=False)
    job = run_one_stage(body, stage_engine)
    attempt = StageAttempt.objects.get(job=job)
    assert (attempt.outcome, attempt.status_code) == (AttemptOutcome.NO_CAPACITY, 503), attempt.message
    # Not the node's failure: no suspension, and the stage waits at the head of its queue...
    node.refresh_from_db()
    assert (node.suspended_until, node.failures_in_row) == (None, 0)
    assert job.status != JobStatus.FAILED
    assert QueuedStage.objects.get(job=job).state == QueueState.WAITING
    # ...while this engine leaves the node alone for a while, rather than asking again at once.
    assert stage_engine.chain_outages.held() == {node.service_uri}
    assert queue.dispatch("text-to-image", MODEL, "books-test", held=stage_engine.chain_outages.held()) == []
    # The chain is back: the job runs.
    paid_node.broker = chain
    engine.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
