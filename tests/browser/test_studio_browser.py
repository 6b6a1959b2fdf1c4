"""The competition in Chromium, as members use it: sign up, make a GIF with the round's second model and
watch it being made, enter it, get it approved, win a vote from another member, see the leaderboard change."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.conftest import PHONE, assert_no_horizontal_scroll, log_in, screenshot

PASSWORD = "a-long-browser-passphrase"
# The second text-to-image model the demo's round offers (seed_demo), sold by the demo's second node.
SECOND_MODEL = "livepeer-ai/tiny-sd15"
LORA_GROUPS_ON_OFFER = (
    "[...document.querySelectorAll('#id_lora optgroup')].filter((g) => !g.disabled).map((g) => g.label)"
)


def progress_value(page: Any) -> float:
    return float(page.get_attribute("#job-progress-bar", "value") or 0)


def sign_up(page: Any, username: str) -> None:
    page.goto("/")
    page.click("#nav-signup")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-button")
    page.wait_for_selector("#nav-logout")


def leaderboard_votes(page: Any, entry_id: str) -> int | None:
    row = page.locator(f'#leaderboard li[data-entry="{entry_id}"] .votes')
    return int(row.get_attribute("data-votes")) if row.count() else None


def test_sign_up_make_a_gif_enter_it_and_win_a_vote(new_page, demo_site):
    maker = new_page()
    sign_up(maker, f"maker-{uuid.uuid4().hex[:6]}")
    assert maker.get_attribute("#quota", "data-left") is not None  # the round's quota is on the page
    maker.fill("#id_prompt", "a lighthouse in a storm")
    # The demo's round offers two text-to-image models: the second one, and only its family's LoRAs.
    assert maker.input_value("#id_model") == "livepeer-ai/tiny-sdxl-turbo"
    maker.select_option("#id_model", SECOND_MODEL)
    assert maker.evaluate(LORA_GROUPS_ON_OFFER) == [f"{SECOND_MODEL} (Stable Diffusion 1.x)"]
    maker.click("#advanced-options summary")
    maker.fill("#id_seed", "7")
    maker.click("#generate")
    maker.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    assert SECOND_MODEL in maker.inner_text("#job-model")
    # The bar moves while the page is open (steps pushed over the WebSocket)…
    maker.wait_for_function("Number(document.querySelector('#job-progress-bar').value) > 0", timeout=60_000)
    # …and a reload mid-job resumes from where the job is (as the row has it: written at most a few
    # times a second, so up to a step behind the last push), it never starts again at 0.
    maker.reload()
    assert progress_value(maker) > 0
    maker.wait_for_selector('#job-progress[data-status="succeeded"]', timeout=180_000)
    assert progress_value(maker) == 100
    gif = maker.locator("figure.result img").first
    assert gif.get_attribute("src").endswith(".gif")
    # The node that made the first frame ran the model picked (the model its attempt was sent for).
    assert maker.inner_text('table.made-by tr[data-stage="text-to-image"] td[data-label="Model"]') == SECOND_MODEL
    assert maker.evaluate("(img) => img.complete && img.naturalWidth > 0", gif.element_handle())
    screenshot(maker, "studio-job-done")
    # At 1280 px each of the table's headers is one line ("Receipts" was once squeezed to a letter a line).
    lines = maker.evaluate(
        "[...document.querySelectorAll('table.made-by thead th')].map((th) => {"
        " const range = document.createRange(); range.selectNodeContents(th); return range.getClientRects().length; })"
    )
    assert lines == [1, 1, 1, 1], lines

    maker.click("#enter-round")
    maker.wait_for_url(re.compile(r"/entries/\d+/$"))
    entry_url = maker.url
    entry_id = maker.get_attribute("#entry", "data-entry")
    assert "Waiting for a moderator" in maker.inner_text("#entry")

    # No safety checker in the demo: the entry waits for a moderator before others see it.
    voter = new_page()
    sign_up(voter, f"voter-{uuid.uuid4().hex[:6]}")
    assert voter.goto(entry_url).status == 404
    moderator = new_page()
    log_in(moderator, "admin", "admin-demo-pass")
    moderator.goto("/moderation/")
    moderator.click(f'#awaiting-review [data-entry="{entry_id}"] button[data-action="approve"]')
    moderator.wait_for_selector(f'#awaiting-review [data-entry="{entry_id}"]', state="detached")

    voter.goto("/rounds/")
    voter.locator("#live-rounds .round-list a").first.click()
    round_url = voter.url
    assert leaderboard_votes(voter, entry_id) in (None, 0)
    voter.goto(entry_url)
    # Approved, the GIF is public: the media view serves it to the voter too.
    voter.wait_for_function(
        "() => { const gif = document.querySelector('#entry-gif'); return gif.complete && gif.naturalWidth > 0; }",
        timeout=10_000,
    )
    voter.click("#vote-button")
    voter.wait_for_selector("#voted")
    assert voter.inner_text("#vote-count") == "1"
    screenshot(voter, "studio-entry")
    voter.goto(round_url)
    assert leaderboard_votes(voter, entry_id) == 1
    screenshot(voter, "studio-round")

    # The maker cannot vote for their own entry.
    maker.goto(entry_url)
    assert maker.locator("#vote-button").count() == 0


def test_the_studio_pages_fit_a_phone_without_horizontal_scrolling(new_page, demo_site):
    page = new_page(viewport=PHONE)
    sign_up(page, f"phone-{uuid.uuid4().hex[:6]}")
    page.goto("/")
    assert_no_horizontal_scroll(page)
    screenshot(page, "studio-phone")
    for path in ("/rounds/", "/accounts/login/"):
        page.goto(path)
        assert_no_horizontal_scroll(page)
