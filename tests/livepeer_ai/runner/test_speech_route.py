"""text-to-speech through the runner's HTTP API on the tiny VITS: Livepeer's AudioResponse (a WAV data URL),
seeded speech, clear refusals.

Responses are checked against the schemas of Livepeer's runner API 0.14.1 (ai_runner_text_schemas.json).
"""

from __future__ import annotations

import io
import wave
from typing import Any

import httpx
import pytest

from livepeer_ai.pipelines.media import parse_data_url
from tests.conftest import HTTP, health, wait_for
from tests.livepeer_ai.runner.test_pipelines_http import sse_events
from tests.livepeer_ai.runner.test_text_routes import assert_matches, schema_errors

TEXT = "Hello from the network, one character at a time."


def speak(url: str, **fields: Any) -> httpx.Response:
    return HTTP.post(f"{url}/text-to-speech", json=fields, timeout=120)


def wav_of(body: dict[str, Any]) -> bytes:
    mime, raw = parse_data_url(body["audio"]["url"])
    assert mime == "audio/wav"
    return raw


def test_the_audio_schema_check_can_fail():
    assert schema_errors({"audio": {}}, {"$ref": "#/AudioResponse"})
    assert schema_errors({"audio": "data:audio/wav;base64,"}, {"$ref": "#/AudioResponse"})
    assert schema_errors({"url": "x"}, {"$ref": "#/AudioResponse"})


def test_text_to_speech_answers_livepeer_audio_response_with_a_wav(runners):
    response = speak(runners.url("text-to-speech"), text=TEXT, seed=4)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, "AudioResponse")
    assert set(body) == {"audio"} and set(body["audio"]) == {"url"}
    with wave.open(io.BytesIO(wav_of(body))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        # VITS says every character for a few 16 ms frames: a sentence is seconds of sound, not silence.
        assert 0.5 < wav.getnframes() / wav.getframerate() < 60
        samples = wav.readframes(wav.getnframes())
    assert samples.strip(b"\0")


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others(runners):
    url = runners.url("text-to-speech")
    first, again, other = (wav_of(speak(url, text=TEXT, seed=seed).json()) for seed in (7, 7, 8))
    assert first == again
    assert first != other


def test_the_description_is_accepted_and_not_read_by_a_vits_model(runners):
    # docs/api.md: a VITS checkpoint has one voice; Livepeer's description steers Parler-TTS only.
    url = runners.url("text-to-speech")
    plain = speak(url, text=TEXT, seed=11)
    described = speak(url, text=TEXT, seed=11, description="A young woman speaks quickly and softly.")
    assert plain.status_code == described.status_code == 200, described.text
    assert wav_of(plain.json()) == wav_of(described.json())


def test_speech_is_one_progress_step_then_the_result(runners):
    events = sse_events(f"{runners.url('text-to-speech')}/text-to-speech", json={"text": "hi there", "seed": 1})
    assert [kind for kind, _ in events] == ["progress", "result"]
    assert events[0][1] == {"step": 1, "total": 1}
    assert_matches(events[1][1], "AudioResponse")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "text must not be empty"),
        ({"text": " \n\t "}, 400, "text must not be empty"),
        ({"text": "a" * 1001}, 400, "1001 characters; one request speaks at most 1000"),
        ({"text": 5}, 422, "valid string"),
        ({"text": ["hello"]}, 422, "valid string"),
        ({"text": "hi", "description": 3}, 422, "valid string"),
        ({"text": "hi", "description": "d" * 1001}, 400, "description is 1001 characters"),
        ({"text": "hi", "seed": -1}, 400, "seed must be between"),
        ({"text": "hi", "seed": "soon"}, 422, "valid integer"),
        ({"text": "hi", "model_id": "someone/else"}, 400, "serves"),
    ],
    ids=[
        "no text",
        "blank text",
        "text too long",
        "text a number",
        "text a list",
        "description a number",
        "description too long",
        "negative seed",
        "seed not a number",
        "another model",
    ],
)
def test_text_to_speech_refuses_bad_input_clearly_and_stays_idle(runners, body, status, message):
    url = runners.url("text-to-speech")
    response = speak(url, **body)
    assert response.status_code == status, response.text
    assert_matches(response.json(), "HTTPError" if status == 400 else "HTTPValidationError")
    assert message in response.text
    assert health(url) == "IDLE"


def test_text_with_nothing_the_model_can_say_is_a_400_and_the_runner_serves_the_next(runners):
    url = runners.url("text-to-speech")
    response = speak(url, text="日本語 ★")
    assert response.status_code == 400, response.text
    assert "nothing this model can say" in response.json()["detail"]["msg"]
    # Refused inside the job: the slot is freed as the job ends, and the next request is served.
    wait_for(lambda: health(url) == "IDLE", 10, "runner idle after the refusal")
    assert speak(url, text="still here", seed=1).status_code == 200
