"""The runner API's error body and one Server-Sent Event, as every side of a job writes them."""

from __future__ import annotations

from livepeer_ai.messages import error_body, sse_event


def test_an_error_is_the_runner_apis_detail_msg():
    assert error_body("insufficient capacity") == {"detail": {"msg": "insufficient capacity"}}


def test_an_event_sends_a_dict_as_json_and_text_a_data_line_per_line():
    assert sse_event("progress", {"step": 1, "total": 4}) == 'event: progress\ndata: {"step": 1, "total": 4}\n\n'
    assert sse_event("note", "a\nb") == "event: note\ndata: a\ndata: b\n\n"
