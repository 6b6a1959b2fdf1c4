"""The studio's pages as a member meets them, in Chromium: an entry shared only once a moderator approved it
(and the maker told so on the site), a styled 404, the home page's strip of the round's best GIFs and its
countdown, 44 px tap targets on a phone, and a GIF given back when its job is canceled before its first frame."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.conftest import PHONE, assert_no_horizontal_scroll, log_in, screenshot
from tests.browser.test_studio_browser import sign_up

# A finished entry in the demo's round, made straight in the database with a colour-gradient GIF
# (no job is queued for it, so the site's engine never picks it up); prints "<entry id> <job id>".
AN_ENTRY = """
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from bench.studio_screenshots import gradient_gif
from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.workflow import DEFAULT_PARAMETERS
from studio.models import Entry, Generation, Safety
from studio.rounds import current_round
round = current_round()
author, _ = get_user_model().objects.get_or_create(username="{author}")
job = Job.objects.create(prompt="{prompt}", owner=author, stages=["text-to-image", "image-to-video"],
    parameters=dict(DEFAULT_PARAMETERS), status=JobStatus.SUCCEEDED, stage_index=1, finished_at=timezone.now())
gif = default_storage.save(f"jobs/{{job.id}}/image-to-video/video.gif", ContentFile(gradient_gif({hue})))
checked = {{"nsfw": False, "nsfw_checked": {checked}}}
job.outputs = {{"text-to-image": {{"seed": 7, **checked}}, "image-to-video": {{"gif": gif, "frames": [], "fps": 6, **checked}}}}
job.save()
Generation.objects.create(job=job, member=author, round=round, prompt="{prompt}", choices={{"prompt": "{prompt}"}})
entry = Entry.objects.create(round=round, job=job, author=author, safety=Safety.{safety}, vote_count={votes})
print(entry.pk, job.id)
"""


def an_entry(site: Any, author: str, prompt: str, safety: str = "CLEAN", votes: int = 0, hue: float = 0.3) -> str:
    """A finished entry by `author` in the round on now; its id."""
    checked = "True" if safety == "CLEAN" else "False"
    code = AN_ENTRY.format(author=author, prompt=prompt, safety=safety, votes=votes, hue=hue, checked=checked)
    return site.shell(code).strip().splitlines()[-1].split()[0]


def test_a_pending_entry_is_shared_once_approved_and_its_maker_is_told(new_page, demo_site):
    tag = uuid.uuid4().hex[:6]
    maker = new_page()
    sign_up(maker, f"entrant-{tag}")
    entry_id = an_entry(demo_site, f"entrant-{tag}", f"a heron at dawn {tag}", safety="UNCHECKED")
    entry_url = f"/entries/{entry_id}/"

    maker.goto(entry_url)
    assert maker.locator("#share-url").count() == 0 and maker.locator("#share-x").count() == 0
    assert "You'll get a notification here on the site" in maker.inner_text("#not-shared")
    assert maker.locator("#unread-notifications").count() == 0
    visitor = new_page()
    assert visitor.goto(entry_url).status == 404
    assert visitor.get_attribute("#error-page", "data-status") == "404"

    moderator = new_page()
    log_in(moderator, "admin", "admin-demo-pass")
    moderator.goto("/moderation/")
    moderator.click(f'#awaiting-review [data-entry="{entry_id}"] button[data-action="approve"]')
    moderator.wait_for_selector(f'#awaiting-review [data-entry="{entry_id}"]', state="detached")

    # The maker's open page hears of it at once (pushed over their socket), and their next page says so too;
    # the list names the entry and leads to it.
    assert maker.wait_for_selector("#unread-notifications", timeout=10_000).inner_text().startswith("1")
    maker.goto("/")
    assert maker.inner_text("#unread-notifications").startswith("1")
    maker.click("#nav-notifications")
    note = maker.locator(f'.notification.unread[data-kind="approved"][data-entry="{entry_id}"]')
    assert f"a heron at dawn {tag}" in note.inner_text()
    screenshot(maker, "studio-notifications")
    note.get_by_role("link").click()
    maker.wait_for_url(re.compile(rf"{entry_url}$"))
    assert maker.input_value("#share-url").endswith(entry_url)
    assert maker.is_visible("#share-x") and maker.locator("#not-shared").count() == 0
    assert maker.locator("#unread-notifications").count() == 0
    # Approved, anyone may open the link and see the GIF.
    assert visitor.goto(entry_url).status == 200
    visitor.wait_for_function(
        "() => { const gif = document.querySelector('#entry-gif'); return gif.complete && gif.naturalWidth > 0; }"
    )


def test_a_missing_page_is_a_404_in_the_sites_layout(new_page):
    page = new_page()
    response = page.goto(f"/no-such-page-{uuid.uuid4().hex[:6]}/")
    assert response.status == 404
    assert page.get_attribute("#error-page", "data-status") == "404"
    assert page.is_visible("header.site-header #nav-rounds") and page.is_visible("#error-page h1")
    # The site's stylesheet is applied (its dark background), not the browser's bare page.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 17, 21)"
    screenshot(page, "studio-404")


def test_the_home_page_shows_the_rounds_best_gifs_its_countdown_and_one_call_to_action(new_page, demo_site):
    tag = uuid.uuid4().hex[:6]
    best = an_entry(demo_site, f"strip-a-{tag}", f"a koi pond in the rain {tag}", votes=50, hue=0.55)
    second = an_entry(demo_site, f"strip-b-{tag}", f"a kite over dunes {tag}", votes=40, hue=0.1)
    page = new_page()
    page.goto("/")
    strip = page.locator("#best-entries li")
    assert strip.nth(0).get_attribute("data-entry") == best
    assert strip.nth(1).get_attribute("data-entry") == second
    page.wait_for_function(
        "() => { const gif = document.querySelector('#best-entries li img'); return gif.complete && gif.naturalWidth > 0; }"
    )
    left = page.locator("#round-banner #countdowns .countdown-left").first
    assert re.fullmatch(r"in \d+ (day|hour|minute|second)s?( \d+ (hour|minute|second)s?)?", left.inner_text())
    # One call to action for a visitor: sign up (and come back here).
    assert page.locator("main .button").count() == 1
    assert page.get_attribute("#cta", "href") == "/accounts/signup/?next=/"
    screenshot(page, "studio-home")
    # The network's pages wait in one menu, out of the way.
    assert not page.is_visible("#nav-network")
    page.click("#nav-infrastructure summary")
    assert page.is_visible("#nav-network") and page.is_visible("#nav-api-docs")
    strip.nth(0).get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/entries/{best}/$"))


# Every button, menu, choice and stand-alone link a phone user taps (links inside sentences are
# read and tapped with their text, as WCAG 2.5.5 allows).
TAP_TARGETS = (
    ".site-nav a, .site-nav button, .site-nav summary, main button, main .button, main summary, main select,"
    " main label.check, .gif-actions a, .card-vote a, .pager a, figure.result figcaption a, .receipt-link,"
    " .error-links a, .strip-more a, .sort a, .leaderboard a, #next-page, .share a, #entry-link, #all-my-gifs,"
    " .make-another, .recent a, .notification a, .gif-strip a"
)
TOO_SMALL = """(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden")
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([el, box]) => box.width < 43.5 || box.height < 43.5)
  .map(([el, box]) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className}`
    + ` "${el.textContent.trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`)"""


def test_on_a_phone_every_tap_target_is_at_least_44_px(new_page, demo_site):
    tag = uuid.uuid4().hex[:6]
    entry_id = an_entry(demo_site, f"phone-author-{tag}", f"a lantern festival {tag}", votes=1)
    page = new_page(viewport=PHONE)
    sign_up(page, f"tapper-{tag}")
    page.goto(f"/entries/{entry_id}/")
    round_url = page.get_attribute("#entry .eyebrow a", "href")
    job_url = page.get_attribute("#entry figcaption a[href^='/jobs/']", "href")
    for path in ("/", "/rounds/", round_url, f"/entries/{entry_id}/", job_url, "/my-gifs/", "/notifications/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(TOO_SMALL, TAP_TARGETS) == [], path
        assert_no_horizontal_scroll(page)
    page.goto("/")
    page.click("#advanced-options summary")  # the form's hidden half too
    assert page.evaluate(TOO_SMALL, TAP_TARGETS) == []
    page.evaluate("document.activeElement.blur()")  # no focus ring in the picture
    screenshot(page, "studio-phone-home")


SUSPEND_NODES = """
from datetime import timedelta
from django.utils import timezone
from livepeer_ai.gateway.models import Orchestrator
print(repr({n.pk: n.suspended_until for n in Orchestrator.objects.all()}))
Orchestrator.objects.update(suspended_until=timezone.now() + timedelta(minutes=10))
"""
RESTORE_NODES = """
import datetime
from livepeer_ai.gateway.models import Orchestrator
for pk, until in {saved}.items():
    Orchestrator.objects.filter(pk=pk).update(suspended_until=until)
"""


def test_a_gif_canceled_before_its_first_frame_is_given_back(new_page, demo_site):
    page = new_page()
    sign_up(page, f"canceler-{uuid.uuid4().hex[:6]}")
    left = int(page.get_attribute("#quota", "data-left"))
    assert "canceled before their first frame was made, don't count" in page.inner_text("#quota")
    # Every node suspended: the job waits in line on its first stage, however fast the runners are.
    saved = demo_site.shell(SUSPEND_NODES).strip().splitlines()[-1]
    try:
        page.fill("#id_prompt", "a snail racing a tortoise")
        page.click("#generate")
        page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
        assert page.get_attribute("#job-progress", "data-status") == "queued"
        page.click("#cancel-job")
        page.wait_for_selector('#job-progress[data-status="canceled"]')
    finally:
        demo_site.shell(RESTORE_NODES.format(saved=saved))
    page.goto("/")
    assert int(page.get_attribute("#quota", "data-left")) == left


# A finished landscape GIF of `member`'s in the round on now, not entered; prints its job id.
A_GIF = """
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from bench.studio_screenshots import gradient_gif
from livepeer_ai.gateway.models import Job, JobStatus
from livepeer_ai.gateway.workflow import DEFAULT_PARAMETERS
from studio.models import Generation
from studio.rounds import current_round
member = get_user_model().objects.get(username="{member}")
job = Job.objects.create(prompt="{prompt}", owner=member, stages=["text-to-image", "image-to-video"],
    parameters={{**DEFAULT_PARAMETERS, "width": 384, "height": 256}}, status=JobStatus.SUCCEEDED, stage_index=1,
    finished_at=timezone.now())
gif = default_storage.save(f"jobs/{{job.id}}/image-to-video/video.gif", ContentFile(gradient_gif(0.7, (384, 256))))
checked = {{"nsfw": False, "nsfw_checked": True}}
job.outputs = {{"text-to-image": {{"seed": 99, **checked}}, "image-to-video": {{"gif": gif, "frames": [], "fps": 6, **checked}}}}
job.save()
choices = {{"prompt": "{prompt}", "negative_prompt": "", "style": "", "size": "landscape", "seed": 99,
    "text_to_image_steps": 6, "image_to_video_steps": 12, "motion_bucket_id": 127, "fps": 6}}
Generation.objects.create(job=job, member=member, round=current_round(), prompt="{prompt}", choices=choices)
print(job.id)
"""


def test_my_gifs_shows_thumbnails_and_remix_fills_in_the_form(new_page, demo_site):
    tag = uuid.uuid4().hex[:6]
    page = new_page()
    sign_up(page, f"remixer-{tag}")
    prompt = f"a paper crane over the sea {tag}"
    job_id = demo_site.shell(A_GIF.format(member=f"remixer-{tag}", prompt=prompt)).strip().splitlines()[-1]
    page.goto("/my-gifs/")
    page.wait_for_function(
        f"() => {{ const img = document.querySelector('#gif-{job_id} img.thumbnail');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    page.click(f'[id="remix{job_id}"]')
    page.wait_for_selector("#prefilled")
    assert "Filled in with that GIF's settings" in page.inner_text("#prefilled")
    assert page.input_value("#id_prompt") == prompt
    assert page.input_value("#id_size") == "landscape"
    assert page.input_value("#id_seed") == ""  # a remix draws new noise


def test_a_vote_asked_for_while_logged_out_is_cast_after_logging_in(new_page, demo_site):
    tag = uuid.uuid4().hex[:6]
    entry_id = an_entry(demo_site, f"vote-author-{tag}", f"a hot-air balloon {tag}")
    password = "a-long-late-voter-passphrase"
    demo_site.shell(
        "from django.contrib.auth import get_user_model; "
        f'get_user_model().objects.create_user("late-voter-{tag}", password="{password}")'
    )
    page = new_page()
    page.goto(f"/entries/{entry_id}/")
    page.click("#login-to-vote")
    page.fill("#id_username", f"late-voter-{tag}")
    page.fill("#id_password", password)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    page.wait_for_url(re.compile(rf"/entries/{entry_id}/\?vote=confirm$"))
    # Back on the entry, the vote is one press away, not cast by the link itself.
    assert page.is_visible("#confirm-vote-notice") and page.inner_text("#vote-count") == "0"
    page.click("#vote-button")
    page.wait_for_selector("#voted")
    assert page.inner_text("#vote-count") == "1"
