"""/api/v1/llm through the network: Livepeer's LLMResponse, billed max_tokens, bad input refused before any job,
and `stream: true` as OpenAI chunks, runner → node → engine → job row → client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from livepeer_ai.gateway.api import chat_stream
from livepeer_ai.gateway.models import ApiKey, Job, JobStatus, StageAttempt
from tests.conftest import health
from tests.livepeer_ai.gateway.test_api import api_network, assert_documented, post_json

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = [{"role": "user", "content": "improve: a cat on the moon"}]


@pytest.fixture
def network(runners: Any, settings: Any, tmp_path: Any, approved_models: Any) -> Iterator[None]:
    with api_network(runners, settings, tmp_path, ("llm",), 120):
        yield


@pytest.fixture
def key() -> str:
    return ApiKey.issue("llm tests")[1]


def test_llm_answers_livepeer_llm_response_and_the_same_seed_the_same_text(client, network, key):
    body = {"messages": CHAT, "max_tokens": 10, "seed": 5, "temperature": 1.0}
    first = post_json(client, "/api/v1/llm", body, key)
    assert first.status_code == 200, first.content
    assert_documented(client, "post", "/api/v1/llm", first)
    answer = first.json()
    assert answer["model"] == "livepeer-ai/tiny-llama-instruct"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["completion_tokens"] <= 10
    again = post_json(client, "/api/v1/llm", {**body, "model": "livepeer-ai/tiny-llama-instruct"}, key)
    assert again.status_code == 200, again.content
    assert again.json()["choices"] == answer["choices"]
    assert again.json()["id"] != answer["id"]
    # Billed the most tokens the answer may have (docs/protocol.md §2.4), not the ones it used.
    assert list(StageAttempt.objects.values_list("units", flat=True)) == [10, 10]


def test_a_conversation_over_the_models_context_fails_with_400_and_the_runner_stays_idle(client, network, key, runners):
    long_chat = [{"role": "user", "content": "the quick brown fox " * 900}]
    response = post_json(client, "/api/v1/llm", {"messages": long_chat, "max_tokens": 4000}, key)
    assert response.status_code == 400, response.content
    assert "context of 4096 tokens" in response.json()["detail"]["msg"]
    assert Job.objects.get().status == JobStatus.FAILED
    assert health(runners.url("llm")) == "IDLE"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"messages": []}, 400, "messages must not be empty"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, 400, "role must be one of"),
        ({"messages": [{"role": "user", "content": ["hi"]}]}, 422, "valid string"),
        ({"messages": CHAT, "max_tokens": 5000}, 400, "max_tokens must be between 1 and 4096"),
        ({"messages": CHAT, "max_tokens": -1}, 400, "max_tokens must be between 1 and 4096"),
        ({"messages": CHAT, "temperature": "hot"}, 422, "temperature"),
        ({"messages": CHAT, "model": "nobody/unknown"}, 400, "not available"),
    ],
    ids=[
        "no messages",
        "unknown role",
        "content not a string",
        "too many tokens",
        "negative tokens",
        "bad type",
        "unknown model",
    ],
)
def test_bad_llm_input_is_refused_before_any_job(client, network, key, body, status, message):
    response = post_json(client, "/api/v1/llm", body, key)
    assert response.status_code == status, response.content
    assert message in response.content.decode()
    assert_documented(client, "post", "/api/v1/llm", response)
    assert not Job.objects.exists()


def test_a_nan_temperature_is_refused_before_any_job(client, network, key):
    raw = '{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'
    response = client.post("/api/v1/llm", data=raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 422, response.content
    assert not Job.objects.exists()


def test_the_openapi_document_gives_livepeers_llm_operation_with_its_request_inline(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/llm"]["post"]
    assert operation["operationId"] == "genLLM"
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "$defs" not in json.dumps(schema)  # a pydantic-local reference would point at nothing here
    message = schema["properties"]["messages"]["items"]
    assert message["properties"]["role"]["enum"] == ["system", "user", "assistant"]
    assert schema["properties"]["max_tokens"] == {**schema["properties"]["max_tokens"], "minimum": 1, "maximum": 4096}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LLMResult")


def streamed(client: Any, body: dict[str, Any], key: str) -> list[Any]:
    response = post_json(client, "/api/v1/llm", {**body, "stream": True}, key)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    lines = [line.removeprefix("data: ") for line in b"".join(response).decode().split("\n\n") if line]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


def test_stream_true_answers_openai_chunks_that_add_up_to_the_answer(client, network, key):
    # Greedy on the tiny model never stops early: 300 tokens take seconds, so text arrives while it is written.
    body = {"messages": CHAT, "max_tokens": 300, "temperature": 0}
    chunks = streamed(client, body, key)
    assert chunks[-1] == "[DONE]"
    chunks = chunks[:-1]
    job = Job.objects.get()
    assert {c["id"] for c in chunks} == {f"chatcmpl-{job.id.hex}"}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(pieces) > 1  # written to the row as it came, not only at the end
    whole = post_json(client, "/api/v1/llm", body, key).json()
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"] == whole["usage"]
    assert job.status == JobStatus.SUCCEEDED


def test_a_streamed_answer_that_fails_ends_with_its_error_and_done(client, network, key, runners):
    long_chat = [{"role": "user", "content": "the quick brown fox " * 900}]
    chunks = streamed(client, {"messages": long_chat, "max_tokens": 4000}, key)
    assert chunks[-1] == "[DONE]"
    assert chunks[-2]["status"] == 400 and "context of 4096 tokens" in chunks[-2]["detail"]["msg"]
    assert health(runners.url("llm")) == "IDLE"


def test_a_stream_whose_answer_restarts_differently_ends_with_an_error_not_a_wrong_text(settings):
    settings.API_SYNC_TIMEOUT_S = 3
    job = Job.objects.create(
        stages=["llm"], status=JobStatus.RUNNING, parameters={"api": True, "request": {"model_id": "m", "stream": True}}
    )

    def engine_writes(text: str) -> None:
        Job.objects.filter(id=job.id).update(outputs={"llm": {"streamed": text}})

    async def read_stream() -> list[str]:
        # The row as the engine writes it: text so far, then a retry elsewhere writing its own answer.
        stream, chunks = chat_stream(job), []
        chunks.append(await anext(stream))
        await sync_to_async(engine_writes)("a cat")
        chunks.append(await anext(stream))
        await sync_to_async(engine_writes)("a dog")
        chunks += [chunk async for chunk in stream]
        return chunks

    role, first, error, done = async_to_sync(read_stream)()
    assert '"role": "assistant"' in role and '"content": "a cat"' in first
    assert json.loads(error.removeprefix("data: "))["status"] == 502 and "restarted" in error
    assert done == "data: [DONE]\n\n"


@pytest.mark.parametrize(
    "answer",
    [{"choices": []}, {"choices": [{"message": {}}]}, {"choices": [{"message": {"content": "hi"}}]}, {}],
)
def test_a_stored_answer_that_is_no_llm_response_ends_the_stream_with_an_error_and_done(answer):
    # What a node sent is not checked against LLMResponse before it is kept: the stream must still end well.
    job = Job.objects.create(
        stages=["llm"],
        status=JobStatus.SUCCEEDED,
        outputs={"llm": answer},
        parameters={"api": True, "request": {"model_id": "m", "stream": True}},
    )

    async def read_stream() -> list[str]:
        return [chunk async for chunk in chat_stream(job)]

    *_, error, done = async_to_sync(read_stream)()
    assert json.loads(error.removeprefix("data: "))["status"] == 502, error
    assert done == "data: [DONE]\n\n"
