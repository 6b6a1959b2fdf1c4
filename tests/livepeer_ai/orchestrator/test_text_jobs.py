"""The node sells image-to-text, audio-to-text and llm: units measured from the upload (llm: max_tokens), the fee charged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from httpx_sse import EventSource

from tests.audio_samples import encode_audio
from tests.conftest import HTTP, orchestrator_node
from tests.livepeer_ai.conftest import TEXT_RUNNERS
from tests.livepeer_ai.runner.test_pipelines_http import png

PRICE = 3


@pytest.fixture(scope="module")
def node_url(text_runners: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    offers = [(pipeline, model, text_runners.url(name)) for name, (pipeline, model) in TEXT_RUNNERS.items()]
    with orchestrator_node({}, tmp_path_factory.mktemp("node-logs"), price_per_unit=PRICE, offers=offers) as url:
        yield url


def stats(url: str, pipeline: str) -> dict[str, Any]:
    described = HTTP.get(f"{url}/info", timeout=5).json()
    return dict(next(c for c in described["capabilities"] if c["pipeline"] == pipeline)["stats"])


def test_audio_to_text_is_billed_its_milliseconds(node_url):
    before = stats(node_url, "audio-to-text")
    response = HTTP.post(
        f"{node_url}/audio-to-text",
        data={"return_timestamps": "false"},
        files={"audio": ("a.flac", encode_audio(2.5, "flac"))},
        timeout=180,
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) >= {"text", "chunks"}
    after = stats(node_url, "audio-to-text")
    assert after["units"] - before["units"] == 2_500
    assert after["fees_wei"] - before["fees_wei"] == 2_500 * PRICE


def test_image_to_text_is_billed_the_input_pixels(node_url):
    before = stats(node_url, "image-to-text")
    response = HTTP.post(f"{node_url}/image-to-text", files={"image": ("in.png", png(48, 32))}, timeout=120)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["text"], str)
    after = stats(node_url, "image-to-text")
    assert after["units"] - before["units"] == 48 * 32
    assert after["fees_wei"] - before["fees_wei"] == 48 * 32 * PRICE


def test_node_refuses_undecodable_audio_before_charging(node_url):
    before = stats(node_url, "audio-to-text")
    response = HTTP.post(f"{node_url}/audio-to-text", files={"audio": ("a.wav", b"not audio")}, timeout=30)
    assert response.status_code == 415
    assert "not supported audio" in response.json()["detail"]["msg"]
    assert stats(node_url, "audio-to-text") == before


def test_llm_is_billed_max_tokens_and_named_by_its_model_field(node_url):
    before = stats(node_url, "llm")
    chat = {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "model": "livepeer-ai/tiny-llama-instruct",
    }
    response = HTTP.post(f"{node_url}/llm", json=chat, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] <= 5
    after = stats(node_url, "llm")
    assert after["units"] - before["units"] == 5
    assert after["fees_wei"] - before["fees_wei"] == 5 * PRICE
    unknown = HTTP.post(f"{node_url}/llm", json={**chat, "model": "someone/else"}, timeout=30)
    assert unknown.status_code == 400 and "someone/else" in unknown.json()["detail"]["msg"]


def test_a_streamed_llm_answer_comes_as_the_nodes_events_deltas_then_the_charged_result(node_url):
    before = stats(node_url, "llm")
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "temperature": 0, "stream": True}
    with HTTP.stream("POST", f"{node_url}/llm", json=chat, timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [(e.event, e.json()) for e in EventSource(response).iter_sse()]
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "result" and "delta" in kinds
    result = events[-1][1]
    streamed = "".join(body["content"] for kind, body in events if kind == "delta")
    assert streamed == result["choices"][0]["message"]["content"]
    assert result["receipts"] == []  # no media to sign for
    assert stats(node_url, "llm")["fees_wei"] - before["fees_wei"] == 8 * PRICE
