"""Watching a GIF form: while a stage runs, its maker's job page shows the runner's live preview (pushed over
the job's WebSocket), and the finished GIF replaces it."""

from __future__ import annotations

import uuid

from tests.browser.test_studio_browser import sign_up
from tests.browser.test_studio_progress_browser import make_a_gif

PREVIEW = "#job-live-preview"


def test_a_preview_of_the_frame_appears_while_it_forms_then_the_gif(new_page, demo_site):
    page = new_page()
    sign_up(page, f"watcher-{uuid.uuid4().hex[:6]}")
    make_a_gif(page, "a kite over the dunes")
    # A preview arrives while a stage runs: the first frame's, or the video's if the first frame was quicker.
    page.wait_for_selector(f'#job-progress[data-status="running"] {PREVIEW}', timeout=120_000)
    alt = page.get_attribute(PREVIEW, "alt")
    assert alt in {"Preview of the first frame as it forms", "Preview of the video as it forms"}, alt
    assert page.get_attribute(PREVIEW, "src").startswith("data:image/jpeg;base64,")
    assert page.evaluate(f"document.querySelector('{PREVIEW}').naturalWidth") > 0
    page.wait_for_selector('#job-progress:is([data-status="succeeded"], [data-status="failed"])', timeout=180_000)
    assert page.get_attribute("#job-progress", "data-status") == "succeeded", demo_site.logs()
    assert page.query_selector(PREVIEW) is None
    assert page.locator("figure.result img").first.get_attribute("src").endswith(".gif")
