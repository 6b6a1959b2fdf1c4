"""The text pipelines through the public API: /api/v1/image-to-text and /api/v1/audio-to-text answer
Livepeer's shapes, audio is billed by its milliseconds, and bad audio is refused before a job exists."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from livepeer_ai.gateway.models import ApiKey, Job, JobStatus
from tests.audio_samples import encode_audio
from tests.livepeer_ai.gateway.test_api import api_network, assert_documented, auth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def network(runners: Any, settings: Any, tmp_path: Any, approved_models: Any) -> Iterator[None]:
    with api_network(runners, settings, tmp_path, ("image-to-text", "audio-to-text"), 300):
        yield


@pytest.fixture
def key() -> str:
    return ApiKey.issue("text tests")[1]


def png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 120, 30)).save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "in.png"
    return buffer


def test_image_to_text_answers_the_runners_text(client, network, key):
    response = client.post("/api/v1/image-to-text", {"image": png(), "prompt": "a photo of"}, **auth(key))
    assert response.status_code == 200, response.content
    assert isinstance(response.json()["text"], str) and response.json()["text"]
    assert_documented(client, "post", "/api/v1/image-to-text", response)
    assert Job.objects.get().parameters["input_size"] == [48, 32]


def test_audio_to_text_answers_text_and_chunks_and_bills_milliseconds(client, network, key):
    audio = io.BytesIO(encode_audio(2.5, "flac"))
    audio.name = "speech.flac"
    response = client.post("/api/v1/audio-to-text", {"audio": audio, "return_timestamps": "true"}, **auth(key))
    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body["text"], str) and isinstance(body["chunks"], list)
    assert all(len(chunk["timestamp"]) == 2 for chunk in body["chunks"])
    assert_documented(client, "post", "/api/v1/audio-to-text", response)
    job = Job.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.parameters["input_ms"] == 2500


def test_audio_that_is_not_audio_is_refused_before_any_job(client, network, key):
    not_audio = io.BytesIO(b"this is not audio at all" * 20)
    not_audio.name = "a.mp3"
    response = client.post("/api/v1/audio-to-text", {"audio": not_audio}, **auth(key))
    assert response.status_code == 415, response.content
    assert "not supported audio" in response.json()["detail"]["msg"]
    assert not Job.objects.exists()


def test_audio_to_text_answers_a_subtitle_file_when_asked(client, network, key):
    audio = io.BytesIO(encode_audio(2.5, "wav"))
    audio.name = "speech.wav"
    response = client.post("/api/v1/audio-to-text?format=vtt", {"audio": audio}, **auth(key))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert response.content.decode().startswith("WEBVTT\n\n00:00:00.180 --> 00:00:02.500\n")
    # The same answer later, as SubRip: one cue per chunk that says something (the tiny model's gibberish).
    job = Job.objects.get()
    spoken = [chunk for chunk in job.outputs["audio-to-text"]["chunks"] if chunk["text"].strip()]
    later = client.get(f"/api/v1/jobs/{job.id}?format=srt", **auth(key))
    assert later.status_code == 200 and later["Content-Type"] == "application/x-subrip; charset=utf-8"
    assert later.content.decode().count(" --> ") == len(spoken) > 0
