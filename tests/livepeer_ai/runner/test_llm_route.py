"""llm through the runner's HTTP API on the tiny Llama: Livepeer's LLMResponse, seeded answers, clear refusals.

Responses are checked against the schemas of Livepeer's runner API 0.14.1 (ai_runner_text_schemas.json).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import HTTP, health, wait_for
from tests.livepeer_ai.runner.test_pipelines_http import sse_events
from tests.livepeer_ai.runner.test_text_routes import assert_matches, schema_errors

CHAT = [{"role": "system", "content": "You write prompts."}, {"role": "user", "content": "a cat on the moon"}]


def chat(url: str, **fields: Any) -> httpx.Response:
    return HTTP.post(f"{url}/llm", json={"messages": CHAT, **fields}, timeout=120)


def test_the_llm_schema_check_can_fail():
    assert schema_errors({"id": "x", "model": "m", "created": 1, "choices": []}, {"$ref": "#/LLMResponse"})
    usage = {"prompt_tokens": 1, "completion_tokens": "2", "total_tokens": 3}
    assert schema_errors(
        {"id": "x", "model": "m", "created": 1, "usage": usage, "choices": []}, {"$ref": "#/LLMResponse"}
    )


def test_llm_answers_livepeer_llm_response_with_its_token_counts(text_runners):
    response = chat(text_runners.url("llm"), max_tokens=12, seed=3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, "LLMResponse")
    assert body["model"] == "livepeer-ai/tiny-llama-instruct"
    assert body["id"].startswith("chatcmpl-")
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    usage = body["usage"]
    assert 1 <= usage["completion_tokens"] <= 12
    assert usage["prompt_tokens"] > 10  # the chat template's headers around both messages
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert choice["finish_reason"] == ("length" if usage["completion_tokens"] == 12 else "stop")


def test_the_same_seed_gives_the_same_answer_and_another_seed_another(text_runners):
    url = text_runners.url("llm")
    texts = [chat(url, max_tokens=24, seed=seed, temperature=1.0).json()["choices"][0]["message"] for seed in (7, 7, 8)]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_temperature_zero_is_greedy_whatever_the_seed(text_runners):
    url = text_runners.url("llm")
    answers = {
        chat(url, max_tokens=8, temperature=0, seed=seed).json()["choices"][0]["message"]["content"] for seed in (1, 2)
    }
    assert len(answers) == 1


def test_each_token_is_a_progress_step_of_max_tokens(text_runners):
    events = sse_events(f"{text_runners.url('llm')}/llm", json={"messages": CHAT, "max_tokens": 6, "seed": 3})
    progress = [body for kind, body in events if kind == "progress"]
    kind, result = events[-1]
    assert kind == "result"
    completion = result["usage"]["completion_tokens"]
    assert progress == [{"step": step, "total": 6} for step in range(1, completion + 1)]


def test_a_conversation_longer_than_the_context_is_refused(text_runners):
    long_chat = [{"role": "user", "content": "the quick brown fox " * 900}]
    response = HTTP.post(f"{text_runners.url('llm')}/llm", json={"messages": long_chat, "max_tokens": 4096}, timeout=60)
    assert response.status_code == 400, response.text
    assert "context of 4096 tokens" in response.json()["detail"]["msg"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"messages": []}, 400, "messages must not be empty"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 400, "role must be one of"),
        ({"messages": [{"role": "user", "content": 5}]}, 422, "string"),
        ({"messages": [{"role": "user"}]}, 422, "Field required"),
        ({"messages": [{"role": "user", "content": "  "}]}, 400, "every content is empty"),
        ({"messages": "hello"}, 422, "list"),
        ({"messages": CHAT, "max_tokens": 0}, 400, "max_tokens must be between 1 and 4096"),
        ({"messages": CHAT, "max_tokens": 4097}, 400, "max_tokens must be between 1 and 4096"),
        ({"messages": CHAT, "temperature": 2.5}, 400, "temperature"),
        ({"messages": CHAT, "top_p": 0}, 400, "top_p"),
        ({"messages": CHAT, "top_k": 0}, 400, "top_k"),
        ({"messages": CHAT, "model": "someone/else"}, 400, "serves"),
    ],
    ids=[
        "no messages",
        "unknown role",
        "content not a string",
        "no content",
        "nothing said",
        "messages not a list",
        "no tokens",
        "too many tokens",
        "temperature too high",
        "top_p zero",
        "top_k zero",
        "another model",
    ],
)
def test_llm_refuses_bad_input_clearly_and_stays_idle(text_runners, body, status, message):
    url = text_runners.url("llm")
    response = HTTP.post(f"{url}/llm", json=body, timeout=60)
    assert response.status_code == status, response.text
    assert_matches(response.json(), "HTTPError" if status == 400 else "HTTPValidationError")
    assert message in response.text
    assert health(url) == "IDLE"


def test_a_nan_temperature_is_refused_as_not_a_number(text_runners):
    url = text_runners.url("llm")
    raw = b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'
    response = HTTP.post(f"{url}/llm", content=raw, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 422, response.text
    assert health(url) == "IDLE"


def chat_chunks(url: str, **fields: Any) -> list[Any]:
    """A streamed answer's `data:` lines, parsed by hand: JSON chunks, and the closing "[DONE]" as is."""
    with HTTP.stream("POST", f"{url}/llm", json={"messages": CHAT, **fields, "stream": True}, timeout=120) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


def test_stream_true_sends_openai_chunks_that_add_up_to_the_same_answer(text_runners):
    url = text_runners.url("llm")
    whole = chat(url, max_tokens=20, seed=9, temperature=1.0).json()
    chunks = chat_chunks(url, max_tokens=20, seed=9, temperature=1.0)
    assert chunks[-1] == "[DONE]"
    chunks = chunks[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole["choices"][0]["message"]["content"]
    assert len([c for c in chunks if c["choices"][0]["delta"].get("content")]) > 1  # token by token
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert last["usage"] == whole["usage"]
    assert health(url) == "IDLE"


def test_a_streamed_answer_that_fails_ends_with_an_error_chunk(text_runners):
    url = text_runners.url("llm")
    long_chat = [{"role": "user", "content": "the quick brown fox " * 900}]
    with HTTP.stream(
        "POST", f"{url}/llm", json={"messages": long_chat, "max_tokens": 4096, "stream": True}, timeout=60
    ) as response:
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    error = json.loads(lines[-2])
    assert error["status"] == 400 and "context" in error["detail"]["msg"]
    assert health(url) == "IDLE"


def test_cancel_stops_the_answer_at_its_next_token_with_409(text_runners):
    url = text_runners.url("llm")
    # Greedy never stops early on the tiny model: 4000 tokens would take minutes.
    body = {"messages": CHAT, "max_tokens": 4000, "temperature": 0}
    headers = {"Accept": "text/event-stream"}
    with HTTP.stream("POST", f"{url}/llm", json=body, headers=headers, timeout=120) as response:
        lines = response.iter_lines()
        kind = ""
        for line in lines:
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            if kind == "progress":
                break
        assert HTTP.post(f"{url}/cancel", timeout=10).json() == {"canceled": True}
        rest = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]
    assert rest[-1] == {"detail": {"msg": "Job canceled."}, "status": 409}
    assert max(event.get("step", 0) for event in rest) < 4000
    wait_for(lambda: health(url) == "IDLE", 30, "llm runner idle after cancel")
