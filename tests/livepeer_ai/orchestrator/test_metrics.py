"""A node's GET /metrics after real jobs on a real runner: requests, errors by code, containers,
price, what it advertises, and the ticket metrics computed from its stored tickets."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from eth_account import Account
from prometheus_client.parser import text_string_to_metric_families

from livepeer_ai.payments.models import ReceivedTicket, RedemptionStatus
from livepeer_ai.registry import curation
from livepeer_ai.registry.models import ModelEntry
from tests.conftest import HTTP, orchestrator_node, wait_for
from tests.livepeer_ai.gateway.test_dispatch import occupy

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "livepeer-ai/tiny-sdxl-turbo"
T2I = {"pipeline": "text-to-image", "model_name": MODEL}
JOB = {"prompt": "metrics", "model_id": MODEL, "width": 64, "height": 64, "num_inference_steps": 1, "seed": 1}
REFRESH_S = 0.2


def scrape(url: str, **headers: str) -> dict[str, Any]:
    response = HTTP.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: dict[str, Any], family: str, sample: str | None = None, **labels: str) -> float | None:
    for s in families[family].samples:
        if s.name == (sample or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    return None


def errors(families: dict[str, Any]) -> dict[str, float]:
    return {s.labels["error_code"]: s.value for s in families["livepeer_ai_request_errors"].samples}


@pytest.fixture
def identity() -> Any:
    return Account.create()


@pytest.fixture
def node(runners: Any, tmp_path: Any, identity: Any, approved_models: Any) -> Iterator[str]:
    with orchestrator_node(
        {"text-to-image": runners.url("text-to-image")},
        tmp_path / "node",
        price_per_unit=3,
        identity=identity,
        registry_refresh_s=REFRESH_S,
    ) as url:
        yield url


def test_requests_errors_containers_price_and_advertising_follow_real_activity(node, personas):
    assert HTTP.post(f"{node}/text-to-image", json=JOB, timeout=60).status_code == 200
    families = scrape(node)
    assert value(families, "livepeer_ai_models_requested", "livepeer_ai_models_requested_total", **T2I) == 1
    assert errors(families) == {}
    assert (
        value(families, "livepeer_ai_container_in_use", **T2I),
        value(families, "livepeer_ai_container_idle", **T2I),
    ) == (0, 1)
    assert value(families, "livepeer_ai_request_price", **T2I) == 3.0
    assert value(families, "livepeer_ai_capability_advertised", **T2I) == 1

    hold, _lines = occupy(node)
    try:
        assert HTTP.post(f"{node}/text-to-image", json=JOB, timeout=60).status_code == 503
        families = scrape(node)
        assert (
            value(families, "livepeer_ai_container_in_use", **T2I),
            value(families, "livepeer_ai_container_idle", **T2I),
        ) == (1, 0)
    finally:
        hold.__exit__(None, None, None)
    assert errors(families) == {"insufficient_capacity": 1}
    # The held job was canceled by closing its stream; the node counts it once its runner stopped.
    wait_for(lambda: errors(scrape(node)).get("canceled") == 1, 30, "the canceled job to be counted")

    curation.disable(ModelEntry.objects.get(pipeline="text-to-image", model_id=MODEL), personas.admin)
    answers: list[int] = []

    def refused() -> bool:
        answers.append(HTTP.post(f"{node}/text-to-image", json=JOB, timeout=60).status_code)
        return answers[-1] == 403

    # Until the node re-reads the registry a request may still be served (or find the runner busy).
    wait_for(refused, 10, "refusal")
    families = scrape(node)
    assert value(families, "livepeer_ai_capability_advertised", **T2I) == 0
    assert errors(families)["model_not_approved"] >= 1
    requested = value(families, "livepeer_ai_models_requested", "livepeer_ai_models_requested_total", **T2I)
    assert requested == 3 + len(answers)  # the job, the held one, the 503, then every request since


def ticket(recipient: str, sender: str, nonce: int, **fields: Any) -> ReceivedTicket:
    defaults = {
        "recipient": recipient,
        "sender": sender,
        "manifest_id": "text-to-image_" + MODEL,
        "face_value": 0,
        "win_prob": 1,
        "sender_nonce": nonce,
        "recipient_rand_hash": "0x" + "ab" * 32,
        "recipient_rand": "0x01",
        "aux_data": "0x",
        "signature": "0x",
        "ticket_hash": f"0x{sender[-4:]}{nonce:060d}",
        "expected_value": 10**9,
    }
    return ReceivedTicket(**{**defaults, **fields})


def test_ticket_metrics_are_computed_from_the_tickets_the_node_stored(node, identity):
    me, senders = identity.address, ["0x" + "1" * 40, "0x" + "2" * 40]
    nonce = itertools.count()
    ReceivedTicket.objects.bulk_create(
        [
            ticket(me, senders[0], next(nonce)),
            ticket(me, senders[0], next(nonce)),
            ticket(
                me,
                senders[0],
                next(nonce),
                winning=True,
                face_value=5 * 10**9,
                status=RedemptionStatus.REDEEMED,
                attempts=2,
            ),
            ticket(
                me,
                senders[1],
                next(nonce),
                expected_value=2 * 10**9,
                winning=True,
                status=RedemptionStatus.FAILED,
                attempts=5,
            ),
            ticket(
                me,
                senders[1],
                next(nonce),
                winning=True,
                face_value=10**18,
                status=RedemptionStatus.PENDING,
                attempts=1,
            ),
            ticket(
                "0x" + "9" * 40,
                senders[0],
                next(nonce),
                winning=True,
                status=RedemptionStatus.REDEEMED,
                face_value=10**9,
            ),
        ]
    )
    families = scrape(node)
    manifest = "text-to-image_" + MODEL
    for sender, count, won, gwei in [(senders[0], 3, 1, 3.0), (senders[1], 2, 2, 3.0)]:
        labels = {"sender": sender, "manifestID": manifest}
        assert value(families, "livepeer_tickets_recv", "livepeer_tickets_recv_total", **labels) == count
        assert value(families, "livepeer_winning_tickets_recv", "livepeer_winning_tickets_recv_total", **labels) == won
        assert value(families, "livepeer_ticket_value_recv", "livepeer_ticket_value_recv_total", **labels) == gwei
    assert value(families, "livepeer_value_redeemed", "livepeer_value_redeemed_total") == 5.0
    # One failed try before the redemption, five for the one given up on, one for the one to retry.
    assert value(families, "livepeer_ticket_redemption_errors", "livepeer_ticket_redemption_errors_total") == 7
    assert {s.labels["status"]: s.value for s in families["livepeer_winning_tickets"].samples} == {
        "redeemed": 1,
        "failed": 1,
        "pending": 1,
    }


def test_each_node_has_its_own_registry(runners, tmp_path):
    with ExitStack() as stack:
        a = stack.enter_context(orchestrator_node({"text-to-image": runners.url("text-to-image")}, tmp_path / "a"))
        b = stack.enter_context(orchestrator_node({"text-to-image": runners.url("text-to-image-b")}, tmp_path / "b"))
        assert HTTP.post(f"{a}/text-to-image", json=JOB, timeout=60).status_code == 200
        assert value(scrape(a), "livepeer_ai_models_requested", "livepeer_ai_models_requested_total", **T2I) == 1
        assert scrape(b)["livepeer_ai_models_requested"].samples == []


def test_the_node_asks_for_the_token_when_one_is_set(node, settings):
    settings.METRICS_TOKEN = "node-scrape-token"
    assert HTTP.get(f"{node}/metrics", timeout=10).status_code == 401
    assert "livepeer_ai_container_idle" in scrape(node, authorization="Bearer node-scrape-token")
