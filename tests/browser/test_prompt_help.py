"""'Improve my prompt': the network's llm writes a better prompt into the field as it streams."""

from __future__ import annotations

import uuid
from itertools import pairwise

from tests.browser.test_studio_browser import sign_up


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
    assert final and final != "a fox" and seen[-1] == final
    # Written piece by piece, each value growing the last, not set once at the end.
    assert len(seen) >= 2 and all(later.startswith(earlier) for earlier, later in pairwise(seen))
    assert page.get_attribute("#improve-prompt-status", "role") == "status"
    page.click("#undo-improve-prompt")
    assert page.input_value("#id_prompt") == "a fox"
    assert "Your own prompt is back" in page.inner_text("#improve-prompt-status")
