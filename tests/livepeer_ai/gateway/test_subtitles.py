"""audio-to-text answers as SubRip and WebVTT files: cues, clocks, open ends, and what is refused."""

from __future__ import annotations

import pytest

from livepeer_ai.gateway.models import ApiKey, Job
from livepeer_ai.gateway.subtitles import NoTimestamps, clock, subtitles
from tests.livepeer_ai.gateway.test_api import auth

ANSWER = {
    "text": "Hello there. General Kenobi.",
    "chunks": [
        {"timestamp": [0.0, 1.52], "text": " Hello there."},
        {"timestamp": [1.52, None], "text": " General\n Kenobi."},
        {"timestamp": [3.0, 3.0], "text": "  "},
    ],
}


def test_clocks_are_rounded_to_the_millisecond_in_each_formats_notation():
    assert clock(3725.0004, ",") == "01:02:05,000"
    assert clock(59.9996, ".") == "00:01:00.000"
    assert clock(-1, ",") == "00:00:00,000"


def test_srt_numbers_its_cues_and_an_open_end_gets_a_second():
    assert subtitles(ANSWER, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,520\nHello there.\n\n2\n00:00:01,520 --> 00:00:02,520\nGeneral Kenobi.\n"
    )


def test_vtt_has_its_header_and_dotted_clocks():
    assert subtitles(ANSWER, "vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.520\nHello there.\n\n00:00:01.520 --> 00:00:02.520\nGeneral Kenobi.\n"
    )


def test_an_open_end_runs_to_the_next_chunk():
    answer = {"chunks": [{"timestamp": [0.5, None], "text": "a"}, {"timestamp": [4.0, 5.0], "text": "b"}]}
    assert "00:00:00,500 --> 00:00:04,000\na" in subtitles(answer, "srt")


def test_text_without_timestamps_has_no_subtitles():
    with pytest.raises(NoTimestamps):
        subtitles({"text": "words", "chunks": []}, "vtt")
    assert subtitles({"text": "", "chunks": []}, "vtt") == "WEBVTT\n\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "fields", "message"),
    [
        ("/api/v1/audio-to-text?format=ass", {}, "format must be json, srt or vtt"),
        ("/api/v1/image-to-text?format=srt", {}, "only for audio-to-text"),
        ("/api/v1/audio-to-text?format=srt", {"return_timestamps": "false"}, "Subtitles need timestamps"),
    ],
)
def test_a_subtitle_format_that_cannot_be_made_is_refused_before_any_job(client, path, fields, message):
    key = ApiKey.issue("subtitles")[1]
    response = client.post(path, fields, **auth(key))
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]["msg"]
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "chunks",
    [
        [{"timestamp": [0.0, None], "text": "a"}, {"text": "b"}],
        [{"timestamp": ["soon", 1.0], "text": "a"}],
        ["a"],
    ],
)
def test_an_answer_with_malformed_chunks_is_a_502_not_a_500(client, chunks):
    # A node's answer is kept as it sent it: its subtitles cannot be made, which is the node's fault.
    api_key, key = ApiKey.issue("subtitles")
    job = Job.objects.create(
        api_key=api_key,
        stages=["audio-to-text"],
        status="succeeded",
        parameters={"api": True, "request": {}},
        outputs={"audio-to-text": {"text": "a b", "chunks": chunks}},
    )
    response = client.get(f"/api/v1/jobs/{job.id}?format=srt", **auth(key))
    assert response.status_code == 502, response.content
    assert "timestamps" in response.json()["detail"]["msg"]
