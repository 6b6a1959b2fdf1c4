"""Voting from the gallery in Chromium: vote on a card and take it back without leaving the page,
copy an entry's link, and the countdowns kept current by countdown.js."""

from __future__ import annotations

import re
import uuid

from tests.browser.test_studio_browser import sign_up

# A finished, public entry by another member in the demo's round, made straight in the database
# (no job is queued for it, so the site's engine never picks it up).
AN_ENTRY = """
from django.contrib.auth import get_user_model
from livepeer_ai.gateway.models import Job, JobStatus
from studio.models import Entry, Generation, Safety
from studio.rounds import current_round
round = current_round()
author = get_user_model().objects.create_user("author-{tag}")
job = Job.objects.create(prompt="a fox {tag}", owner=author, stages=["text-to-image", "image-to-video"],
    parameters={{}}, status=JobStatus.SUCCEEDED, stage_index=1,
    outputs={{"image-to-video": {{"gif": "jobs/none/video.gif"}}}})
Generation.objects.create(job=job, member=author, round=round, prompt="a fox {tag}", choices={{}})
print(Entry.objects.create(round=round, job=job, author=author, safety=Safety.CLEAN).pk, round.slug)
"""


def test_vote_and_take_it_back_from_the_grid_copy_the_link_and_watch_the_countdown(new_page, demo_site):
    tag = uuid.uuid4().hex[:6]
    entry_id, round_slug = demo_site.shell(AN_ENTRY.format(tag=tag)).strip().splitlines()[-1].split()
    page = new_page()
    sign_up(page, f"grid-voter-{tag}")

    page.goto(f"/rounds/{round_slug}/?sort=new")
    page.evaluate("window.stillThisPage = true")  # gone if the page reloads
    card = page.locator(f"#card-vote-{entry_id}")
    card.get_by_role("button", name=re.compile("^Vote for")).click()
    card.get_by_role("button", name=re.compile("^Take back")).wait_for()
    assert card.locator(".votes").inner_text() == "1"
    assert card.get_by_role("status").inner_text() == "Vote counted. Thank you!"
    card.get_by_role("button", name=re.compile("^Take back")).click()
    card.get_by_role("button", name=re.compile("^Vote for")).wait_for()
    assert card.locator(".votes").inner_text() == "0"
    assert page.evaluate("window.stillThisPage === true")

    # The countdown: server-written, then kept current (an end set 65 s ahead is counted down to in words).
    left = page.locator("#countdowns .countdown-left").first
    assert re.fullmatch(r"in \d+ (day|hour|minute|second)s?( \d+ (hour|minute|second)s?)?", left.inner_text())
    page.evaluate(
        "document.querySelector('#countdowns [data-ends]').dataset.ends ="
        " new Date(Date.now() + Number(document.querySelector('#countdowns').dataset.offset) + 65000).toISOString()"
    )
    page.wait_for_function(
        "/^in 1 minute( \\d+ seconds?)?$/.test(document.querySelector('#countdowns .countdown-left').textContent)",
        timeout=5_000,
    )

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/entries/{entry_id}/")
    page.click("#copy-link")
    page.locator("#copy-link-status", has_text="Link copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#share-url")
