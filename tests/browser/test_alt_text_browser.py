"""An entry's GIF gets its alt text from the network's image-to-text once the GIF is made."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.test_studio_browser import sign_up
from tests.conftest import wait_for

PROMPT = "a cat on a skateboard"
FALLBACK = f"Generated GIF for: {PROMPT}"


def entry_gif_alt(page: Any) -> str:
    page.reload()
    return str(page.get_attribute("#entry-gif", "alt"))


def test_an_entrys_gif_gets_alt_text_written_by_the_network(new_page):
    page = new_page()
    sign_up(page, f"captioned-{uuid.uuid4().hex[:6]}")
    page.fill("#id_prompt", PROMPT)
    # Two video steps: the caption is of the GIF's first frame, and a shorter GIF spares the suite's CPU.
    page.click("#advanced-options summary")
    page.fill("#id_image_to_video_steps", "2")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    page.wait_for_selector('#job-progress[data-status="succeeded"]', timeout=180_000)
    page.click("#enter-round")
    page.wait_for_url(re.compile(r"/entries/\d+/$"))
    # The caption is an image-to-text job queued when the GIF succeeded; the page reads it once it is done.
    alt = wait_for(lambda: (text := entry_gif_alt(page)) != FALLBACK and text, 120, "the caption", interval=1)
    # BLIP continues the caption's prompt, so its own words follow it (the tiny model's are gibberish).
    assert alt.startswith("a picture of") and len(alt) > len("a picture of")
    assert page.evaluate("() => document.querySelector('#entry-gif').naturalWidth > 0")
