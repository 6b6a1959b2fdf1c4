"""Paying an orchestrator for one stage (docs/protocol.md §2.3, §3.3), when the gateway is on chain.

Before each request the gateway asks the node for ticket params for itself,
checks they name the node's advertised address, and attaches tickets for the
fee at the node's advertised price. The tickets count as sent once the node
answered the request they came with (a node that refused it first never took
them). Only when the stage completed does the gateway charge its credit there, as the node debits its balance; a refused or
failed job leaves both unchanged. Off chain (no WEB3_PROVIDER_URI) nothing is
attached.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.utils import timezone

from livepeer_ai.gateway import slots
from livepeer_ai.gateway.http import orchestrator_client
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.messages import CHAIN_UNAVAILABLE, GATEWAY_CANNOT_PAY
from livepeer_ai.payments.accounts import AccountError, gateway_account
from livepeer_ai.payments.broker import Broker
from livepeer_ai.payments.chain import ChainError, ChainUnavailable
from livepeer_ai.payments.models import OrchestratorCredit
from livepeer_ai.payments.sender import GatewaySender, SenderRefused
from livepeer_ai.payments.wire import PAYMENT_HEADER, MalformedPayment, TicketParams, tickets_accepted
from livepeer_ai.protocol.units import fee_wei, manifest_id
from livepeer_ai.runner.client import RunnerError, error_code, error_message

PARAMS_TIMEOUT = httpx.Timeout(8.0, connect=3.0)


@dataclass
class StagePayment:
    headers: dict[str, str]
    # Called once the stage completed: the credit at the node pays for it.
    charge: Callable[[], None]
    # Called with the node's PAYMENT_ACCEPTED_HEADER once it answered with one: the books count
    # the tickets it says it credited then.
    accepted: Callable[[str], None] | None = None
    # What `charge` books, in wei: the fee at the node's advertised price (None: nothing is paid).
    fee_wei: int | None = None


@functools.cache
def gateway_sender() -> GatewaySender:
    return GatewaySender(
        gateway_account(),
        Broker.from_settings(),
        max_ticket_ev=settings.MAX_TICKET_EV,
        max_total_ev=settings.MAX_TOTAL_EV,
    )


def price_of(node: Orchestrator, pipeline: str, model_id: str) -> tuple[int, int]:
    for capability in (node.info or {}).get("capabilities", []):
        if capability.get("pipeline") == pipeline and capability.get("model_id") == model_id:
            return int(capability["price_per_unit"]), int(capability["pixels_per_unit"])
    raise RunnerError(503, f"{node.service_uri} no longer advertises {pipeline} {model_id}")


def unpayable(pipeline: str, model_id: str, units: int) -> str:
    """Why this gateway could pay no node that sells the capability for `units`, or "" when one may be paid.

    One request is paid by one batch of tickets, and `sender.pay` refuses a batch over
    MAX_TOTAL_EV: so a fee beyond that (less the credit already at the node) can never
    be paid, whatever the node. Asked before a job is accepted, at the prices the nodes
    advertise (under the price cap); with no such offer known, nothing is said here.
    """
    if not settings.WEB3_PROVIDER_URI or units <= 0:
        return ""
    cap = slots.price_cap()
    manifest = manifest_id(pipeline, model_id)
    cheapest: tuple[int, int, str] | None = None
    fresh = Orchestrator.objects.filter(reachable=True, info_fetched_at__gte=timezone.now() - slots.known_window())
    for node in fresh:
        offered = node.capability(pipeline, model_id)
        if offered is None:
            continue
        price, pixels = int(offered.get("price_per_unit", 0)), int(offered.get("pixels_per_unit", 1)) or 1
        if cap is not None and not cap.allows(price, pixels):
            continue
        fee = fee_wei(units, price, pixels)
        credits = OrchestratorCredit.objects.filter(recipient=node.address, manifest_id=manifest)
        credit = max([0, *(int(c.balance) for c in credits)])
        if cheapest is None or fee - credit < cheapest[0] - cheapest[1]:
            cheapest = (fee, credit, node.service_uri)
    if cheapest is None or cheapest[0] - cheapest[1] <= settings.MAX_TOTAL_EV:
        return ""
    fee, credit, where = cheapest
    return (
        f"This gateway cannot pay for this request: it costs {fee} wei at the cheapest offer ({where}), "
        f"and the gateway pays at most {settings.MAX_TOTAL_EV} wei of tickets per request"
        + (f" beyond its credit of {credit} wei there" if credit > 0 else "")
        + ". Ask for fewer pixels."
    )


def pay_for_stage(node: Orchestrator, pipeline: str, model_id: str, units: int) -> StagePayment:
    if not settings.WEB3_PROVIDER_URI:
        return StagePayment(headers={}, charge=lambda: None)
    try:
        sender = gateway_sender()
    except ChainUnavailable as exc:
        raise RunnerError(503, f"chain unavailable while paying: {exc}", CHAIN_UNAVAILABLE) from exc
    except (AccountError, ChainError) as exc:
        raise RunnerError(500, f"The gateway cannot pay: {exc}", GATEWAY_CANNOT_PAY) from exc
    price_per_unit, pixels_per_unit = price_of(node, pipeline, model_id)
    fee = fee_wei(units, price_per_unit, pixels_per_unit)
    manifest = manifest_id(pipeline, model_id)
    try:
        response = orchestrator_client().get(
            f"{node.service_uri}/ticket-params",
            params={"sender": sender.address, "pipeline": pipeline, "model_id": model_id},
            timeout=PARAMS_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise RunnerError(502, f"{node.service_uri}/ticket-params failed: {exc}") from exc
    if response.status_code != 200:
        if response.status_code == 503 and error_code(response) == CHAIN_UNAVAILABLE:
            # The node's chain is down, not the node: no failure of its own (gateway/dispatch.py).
            raise RunnerError(503, f"ticket params: {error_message(response)}", CHAIN_UNAVAILABLE)
        raise RunnerError(502 if response.status_code >= 500 else 503, f"ticket params refused: {response.text[:300]}")
    try:
        answer = response.json()
        params = TicketParams.from_json(answer.get("ticket_params"))
        credit = int(answer.get("balance", "0"))
    except (ValueError, AttributeError, MalformedPayment) as exc:
        raise RunnerError(502, f"{node.service_uri} sent unusable ticket params: {exc}") from exc
    if params.recipient.lower() != node.address.lower():
        raise RunnerError(502, f"ticket params name {params.recipient}, but the node advertises {node.address}")
    try:
        payment = sender.pay(params, fee, manifest, credit=credit)
    except SenderRefused as exc:
        # 402: the gateway's own limits refuse this payment; it is no failure of the node's, so
        # the job fails with the reason and the node is not suspended (gateway/dispatch.py).
        raise RunnerError(402, f"The gateway will not pay {node.service_uri}: {exc.message}") from exc
    except ChainUnavailable as exc:
        raise RunnerError(503, f"chain unavailable while paying: {exc}", CHAIN_UNAVAILABLE) from exc
    except ChainError as exc:
        raise RunnerError(503, f"the chain refused a read while paying: {exc}") from exc
    return StagePayment(
        headers={PAYMENT_HEADER: payment.encode()},
        charge=lambda: sender.charge(params.recipient, manifest, fee),
        accepted=lambda said: sender.accepted(payment, manifest, tickets_accepted(said, len(payment.tickets))),
        fee_wei=fee,
    )
