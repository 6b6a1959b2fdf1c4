"""The node sells text-to-speech: billed the characters of its text (as go-livepeer counts them), measured
before payment, with a signed receipt for the WAV; refused text is not charged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from livepeer_ai.payments.receipts import verify_receipt
from livepeer_ai.pipelines.media import parse_data_url
from tests.conftest import HTTP, RUNNERS, orchestrator_node

PRICE = 7


@pytest.fixture(scope="module")
def node_url(runners: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pipeline, model = RUNNERS["text-to-speech"]
    offers = [(pipeline, model, runners.url("text-to-speech"))]
    with orchestrator_node({}, tmp_path_factory.mktemp("node-logs"), price_per_unit=PRICE, offers=offers) as url:
        yield url


def stats(url: str) -> dict[str, Any]:
    described = HTTP.get(f"{url}/info", timeout=5).json()
    return dict(next(c for c in described["capabilities"] if c["pipeline"] == "text-to-speech")["stats"])


def test_speech_is_billed_the_texts_characters_with_a_receipt_for_the_wav(node_url):
    before = stats(node_url)
    response = HTTP.post(f"{node_url}/text-to-speech", json={"text": "Hello there", "seed": 3}, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    after = stats(node_url)
    assert after["units"] - before["units"] == len("Hello there") == 11
    assert after["fees_wei"] - before["fees_wei"] == 11 * PRICE
    _mime, wav = parse_data_url(body["audio"]["url"])
    [document] = body["receipts"]
    receipt = verify_receipt(document, wav).receipt
    assert (receipt.units, receipt.model_id) == (11, "livepeer-ai/tiny-vits")


def test_characters_are_counted_as_go_livepeer_counts_them_in_utf8_bytes(node_url):
    before = stats(node_url)
    response = HTTP.post(f"{node_url}/text-to-speech", json={"text": "café"}, timeout=120)
    assert response.status_code == 200, response.text
    # "é" is two bytes in UTF-8: Go's len("café") is 5.
    assert stats(node_url)["units"] - before["units"] == 5


def test_text_the_runner_refuses_is_not_charged(node_url):
    before = stats(node_url)
    response = HTTP.post(f"{node_url}/text-to-speech", json={"text": "  "}, timeout=60)
    assert response.status_code == 400, response.text
    assert "text must not be empty" in response.json()["detail"]["msg"]
    after = stats(node_url)
    assert (after["units"], after["fees_wei"]) == (before["units"], before["fees_wei"])
    assert after["failed"].get("400", 0) == before["failed"].get("400", 0) + 1
