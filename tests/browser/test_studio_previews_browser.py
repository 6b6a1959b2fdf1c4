"""Watching a GIF form: while a stage runs, its maker's job page shows the runner's live preview (pushed over
the job's WebSocket; docs/screenshots/studio-preview.png is taken then), and the finished GIF replaces it."""

from __future__ import annotations

import uuid
from typing import Any

from tests.browser.conftest import screenshot
from tests.browser.test_studio_browser import sign_up
from tests.browser.test_studio_progress_browser import make_a_gif

PREVIEW = "#job-live-preview"


def screenshot_while(page: Any, selector: str, name: str, tries: int = 3) -> None:
    """docs/screenshots/<name>.png, taken while `selector` shows: it is there before and after the shot
    (a preview is gone for a moment between the first frame's stage and the video's)."""
    for _ in range(tries):
        page.wait_for_selector(selector, timeout=120_000)
        screenshot(page, name)
        if page.query_selector(selector) is not None:
            return
    raise AssertionError(f"{selector} was gone each time {name} was taken")


def test_a_preview_of_the_frame_appears_while_it_forms_then_the_gif(new_page, demo_site):
    page = new_page()
    sign_up(page, f"watcher-{uuid.uuid4().hex[:6]}")
    make_a_gif(page, "a kite over the dunes")
    # A preview arrives while a stage runs: the first frame's, or the video's if the first frame was quicker.
    showing = f'#job-progress[data-status="running"] {PREVIEW}'
    page.wait_for_selector(showing, timeout=120_000)
    alt = page.get_attribute(PREVIEW, "alt")
    assert alt in {"Preview of the first frame as it forms", "Preview of the video as it forms"}, alt
    assert page.get_attribute(PREVIEW, "src").startswith("data:image/jpeg;base64,")
    assert page.evaluate(f"document.querySelector('{PREVIEW}').naturalWidth") > 0
    screenshot_while(page, showing, "studio-preview")
    page.wait_for_selector('#job-progress:is([data-status="succeeded"], [data-status="failed"])', timeout=180_000)
    assert page.get_attribute("#job-progress", "data-status") == "succeeded", demo_site.logs()
    assert page.query_selector(PREVIEW) is None
    assert page.locator("figure.result img").first.get_attribute("src").endswith(".gif")
