"""/api/v1/text-to-speech through the network: Livepeer's AudioResponse with a fetchable WAV, billed by the
text's characters, the same seed the same bytes, and bad input refused before any job."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from typing import Any

import pytest

from livepeer_ai.gateway.models import ApiKey, Job, JobStatus, Receipt, StageAttempt
from tests.conftest import health, wait_for
from tests.livepeer_ai.gateway.test_api import api_network, assert_documented, post_json

pytestmark = pytest.mark.django_db(transaction=True)

ROUTE = "/api/v1/text-to-speech"


@pytest.fixture
def network(runners: Any, settings: Any, tmp_path: Any, approved_models: Any) -> Iterator[None]:
    with api_network(runners, settings, tmp_path, ("text-to-speech",), 120):
        yield


@pytest.fixture
def key() -> str:
    return ApiKey.issue("speech tests")[1]


def fetch(client: Any, url: str) -> bytes:
    assert url.startswith("http://testserver/media/jobs/"), url
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response["Content-Type"] in ("audio/wav", "audio/x-wav")
    return b"".join(response.streaming_content)


def test_speech_answers_a_fetchable_wav_billed_by_characters_and_the_same_seed_the_same_bytes(client, network, key):
    body = {"text": "Hello there", "seed": 5}
    first = post_json(client, ROUTE, body, key)
    assert first.status_code == 200, first.content
    assert_documented(client, "post", ROUTE, first)
    assert set(first.json()) == {"audio"}
    wav = fetch(client, first.json()["audio"]["url"])
    with wave.open(io.BytesIO(wav)) as audio:
        assert (audio.getnchannels(), audio.getframerate()) == (1, 16_000) and audio.getnframes() > 0
    again = post_json(client, ROUTE, body, key)
    assert again.status_code == 200, again.content
    assert again.json()["audio"]["url"] != first.json()["audio"]["url"]  # a file per job
    assert fetch(client, again.json()["audio"]["url"]) == wav
    # Billed "Hello there"'s 11 characters (docs/protocol.md §2.4), and each WAV has its verified receipt.
    assert list(StageAttempt.objects.values_list("units", flat=True)) == [11, 11]
    receipts = Receipt.objects.filter(stage="text-to-speech")
    assert [r.kind for r in receipts] == ["audio", "audio"]
    assert all(r.path.endswith("speech.wav") for r in receipts)


def test_a_finished_speech_job_reads_as_the_audio_response(client, network, key):
    accepted = post_json(client, ROUTE, {"text": "later"}, key, HTTP_PREFER="respond-async")
    assert accepted.status_code == 202, accepted.content
    job_id = accepted.json()["request_id"]
    wait_for(lambda: Job.objects.get(id=job_id).is_finished, 60, "the speech job to finish")
    state = client.get(f"/api/v1/jobs/{job_id}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert state.status_code == 200
    assert_documented(client, "get", "/api/v1/jobs/{job_id}", state)
    assert state.json()["status"] == JobStatus.SUCCEEDED
    assert fetch(client, state.json()["result"]["audio"]["url"]).startswith(b"RIFF")


def test_text_the_model_cannot_say_fails_the_job_with_400_and_the_runner_stays_idle(client, network, key, runners):
    response = post_json(client, ROUTE, {"text": "日本語"}, key)
    assert response.status_code == 400, response.content
    assert "nothing this model can say" in response.json()["detail"]["msg"]
    assert Job.objects.get().status == JobStatus.FAILED
    assert health(runners.url("text-to-speech")) == "IDLE"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "text must not be empty"),
        ({"text": "\n "}, 400, "text must not be empty"),
        ({"text": "a" * 1001}, 400, "one request speaks at most 1000"),
        ({"text": 5}, 422, "valid string"),
        ({"text": "hi", "description": ["calm"]}, 422, "valid string"),
        ({"text": "hi", "description": "d" * 1001}, 400, "description is 1001 characters"),
        ({"text": "hi", "seed": "7"}, 422, "valid integer"),
        ({"text": "hi", "model_id": "nobody/unknown"}, 400, "not available"),
    ],
    ids=[
        "no text",
        "blank text",
        "text too long",
        "text a number",
        "description a list",
        "description too long",
        "seed a string",
        "unknown model",
    ],
)
def test_bad_speech_input_is_refused_before_any_job(client, approved_models, key, body, status, message):
    response = post_json(client, ROUTE, body, key)
    assert response.status_code == status, response.content
    assert message in response.content.decode()
    assert_documented(client, "post", ROUTE, response)
    assert not Job.objects.exists()


def test_the_openapi_document_gives_livepeers_text_to_speech_operation(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"][ROUTE]["post"]
    assert operation["operationId"] == "genTextToSpeech"
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "$defs" not in json.dumps(schema)
    text, description = schema["properties"]["text"], schema["properties"]["description"]
    # Livepeer's fields and defaults, with the bounds the runner holds them to.
    assert (text["default"], text["maxLength"]) == ("", 1000)
    assert description["default"].startswith("A male speaker delivers a slightly expressive")
    assert description["maxLength"] == 1000
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AudioResult")
