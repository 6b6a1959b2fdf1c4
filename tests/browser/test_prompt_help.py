"""'Improve my prompt': the network's llm writes a better prompt into the field as it streams."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

from tests.browser.test_studio_browser import sign_up
from tests.conftest import ROOT


def test_improve_my_prompt_streams_into_the_field_and_can_be_undone(new_page):
    page = new_page()
    sign_up(page, f"prompter-{uuid.uuid4().hex[:6]}")
    page.fill("#id_prompt", "a fox")
    # Every value the field takes while the answer streams in.
    page.evaluate(
        "window.seen = []; document.getElementById('id_prompt')"
        ".addEventListener('input', e => window.seen.push(e.target.value))"
    )
    page.click("#improve-prompt")
    page.locator("#undo-improve-prompt").wait_for(timeout=120_000)
    seen = page.evaluate("window.seen")
    final = page.input_value("#id_prompt")
    # The model's words, written as they came: each value grows the last. (How many pieces depends
    # on how long the model takes: the tiny one often answers within one write of the job row.
    # The pieces themselves: the API's stream test, and the routed test below.)
    assert final and final != "a fox" and seen[-1] == final
    assert all(later.startswith(earlier) for earlier, later in pairwise(seen))
    assert page.get_attribute("#improve-prompt-status", "role") == "status"
    page.click("#undo-improve-prompt")
    assert page.input_value("#id_prompt") == "a fox"
    assert "Your own prompt is back" in page.inner_text("#improve-prompt-status")


IMPROVE_PAGE = """<!doctype html><form><input type="hidden" name="csrfmiddlewaretoken" value="t">
<textarea id="id_prompt">a fox</textarea>
<button type="button" id="improve-prompt" data-url="/prompt/improve/" data-field="id_prompt">Improve</button>
<span id="improve-prompt-status" role="status"></span></form>
<script src="/improve_prompt.js"></script>"""


@contextmanager
def routed_page(chromium: Any, stream: str) -> Iterator[Any]:
    """The create form's prompt field and button, with the site's script, answered by `stream`."""
    script = (ROOT / "static" / "studio" / "improve_prompt.js").read_text()
    context = chromium.new_context(base_url="http://studio.test")
    try:
        page = context.new_page()
        # The last route added is asked first.
        page.route("**/", lambda route: route.fulfill(body=IMPROVE_PAGE, content_type="text/html"))
        page.route("**/improve_prompt.js", lambda route: route.fulfill(body=script, content_type="text/javascript"))
        page.route("**/prompt/improve/", lambda route: route.fulfill(body=stream, content_type="text/event-stream"))
        page.goto("/")
        yield page
    finally:
        context.close()


def test_a_stream_that_fails_part_way_puts_the_members_prompt_back_and_says_why(chromium):
    """The error chunk is the API's (`{"detail": {"msg"}, "status"}`, gateway/api.chat_stream), after some text."""
    from livepeer_ai.messages import CHAT_STREAM_DONE, chat_chunk, chat_error

    stream = (
        chat_chunk("c", "m", 0, {"content": "A red fox"})
        + chat_error("The answer was restarted on another node.", 502)
        + CHAT_STREAM_DONE
    )
    with routed_page(chromium, stream) as page:
        page.click("#improve-prompt")
        page.wait_for_function("document.getElementById('improve-prompt').disabled === false")
        assert page.input_value("#id_prompt") == "a fox"
        said = page.inner_text("#improve-prompt-status")
        assert "restarted on another node" in said and "unchanged" in said
        assert page.locator("#undo-improve-prompt").count() == 0


def test_each_piece_of_the_stream_is_written_into_the_field_as_it_comes(chromium):
    from livepeer_ai.messages import CHAT_STREAM_DONE, chat_chunk

    pieces = ["A red", " fox in", " the snow"]
    stream = (
        chat_chunk("c", "m", 0, {"role": "assistant", "content": ""})
        + "".join(chat_chunk("c", "m", 0, {"content": piece}) for piece in pieces)
        + chat_chunk("c", "m", 0, {}, "stop", {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4})
        + CHAT_STREAM_DONE
    )
    with routed_page(chromium, stream) as page:
        page.evaluate(
            "window.seen = []; document.getElementById('id_prompt')"
            ".addEventListener('input', e => window.seen.push(e.target.value))"
        )
        page.click("#improve-prompt")
        page.locator("#undo-improve-prompt").wait_for()
        assert page.evaluate("window.seen") == ["A red", "A red fox in", "A red fox in the snow"]
