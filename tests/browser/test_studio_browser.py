"""The studio in Chromium: a prompt becomes a GIF while the progress bar moves to the end."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import PHONE, assert_no_horizontal_scroll, screenshot


def progress_value(page: Any) -> int:
    return int(page.get_attribute("#job-progress-bar", "value") or 0)


def test_a_prompt_becomes_a_gif_and_the_bar_moves_to_the_end_across_a_reload(new_page, demo_site):
    page = new_page()
    page.goto("/")
    page.get_by_label("Prompt").fill("a lighthouse in a storm, pixel art")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/jobs/*/")
    # Moving: the bar passes the first stage while the page is open.
    page.wait_for_function("Number(document.querySelector('#job-progress-bar').value) > 0", timeout=60_000)
    seen = progress_value(page)
    # A reload mid-job renders the row and reconnects: it resumes, never restarts at 0.
    page.reload()
    assert progress_value(page) >= seen
    page.wait_for_selector('#job-progress[data-status="succeeded"]', timeout=120_000)
    assert progress_value(page) == 100
    gif = page.locator("figure.result img")
    assert gif.get_attribute("src").endswith(".gif")
    assert page.evaluate("(img) => img.naturalWidth", gif.element_handle()) > 0
    screenshot(page, "studio-job-done")


def test_the_studio_fits_a_phone_without_horizontal_scrolling(new_page):
    page = new_page(viewport=PHONE)
    page.goto("/")
    assert_no_horizontal_scroll(page)
    screenshot(page, "studio-phone")
