"""The job page's bar follows how long each stage of a GIF takes, as the site measured on the GIFs before it
(studio/progress.py): with the tiny models the first frame is a small part of the time, so the bar must not
reach half way in the first tenth of the time, as it did when every stage weighed the same."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tests.browser.test_studio_browser import sign_up

# Every change of the page's progress fragment (pushed over the WebSocket, swapped in by htmx) as
# [ms since the navigation that made the job, bar value, job status, running stage].
RECORDER = """
window.barSamples = [];
const sample = () => {
  const box = document.querySelector('#job-progress'), bar = document.querySelector('#job-progress-bar');
  if (!box || !bar) return;
  const running = box.querySelector('.stage-item.running');
  window.barSamples.push([performance.now(), Number(bar.value), box.dataset.status, running ? running.dataset.stage : null]);
};
document.addEventListener('DOMContentLoaded', () => {
  sample();
  new MutationObserver(sample).observe(document.body, {subtree: true, childList: true, attributes: true});
});
"""
PHASES = """
import json
from livepeer_ai.gateway.models import Job
from studio.progress import measured_phases
print(json.dumps(measured_phases(Job.objects.get(id="{job_id}"))))
"""


def make_a_gif(page: Any, prompt: str) -> str:
    """Half the default video steps, to save time; the first frame is still a small part of it."""
    page.goto("/")
    page.fill("#id_prompt", prompt)
    page.click("#advanced-options summary")
    page.fill("#id_image_to_video_steps", "6")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    return page.url.rstrip("/").rsplit("/", 1)[1]


def test_the_bar_follows_the_measured_durations_of_the_stages(new_page, demo_site):
    page = new_page()
    sign_up(page, f"patient-{uuid.uuid4().hex[:6]}")
    # One GIF of this shape, so the site has durations to weigh the next one's stages by.
    make_a_gif(page, "a clock tower at noon")
    page.wait_for_selector('#job-progress[data-status="succeeded"]', timeout=180_000)

    page.add_init_script(RECORDER)
    job_id = make_a_gif(page, "a clock tower at midnight")
    page.wait_for_selector('#job-progress:is([data-status="succeeded"], [data-status="failed"])', timeout=180_000)
    samples = page.evaluate("window.barSamples")
    assert page.get_attribute("#job-progress", "data-status") == "succeeded", demo_site.logs()
    took = next(t for t, _, status, _ in samples if status == "succeeded")
    before = [(t / took, value, stage) for t, value, status, stage in samples if status != "succeeded"]
    trace = json.dumps([(round(share, 3), value, stage) for share, value, stage in before])

    phases = json.loads(demo_site.shell(PHASES.format(job_id=job_id)).strip().splitlines()[-1])
    first_frame_share = 100 * phases[0] / sum(phases)
    assert first_frame_share < 40, f"the first frame took {phases}: not a test of the weights"
    # The video's first push: the bar stands at the first frame's measured share, not at half way.
    at_video = next(value for _, value, stage in before if stage == "image-to-video")
    assert abs(at_video - first_frame_share) < 10, (at_video, phases, trace)
    # No half way in the first tenth of the time. (How closely it tracks the clock after that depends on
    # how alike the two jobs ran: on CI's loaded cores the second GIF's encoding took twice the first's.)
    assert not any(value >= 50 for share, value, _ in before if share <= 0.1), trace
    # And it does move as the video's steps come in, before it ends at 100 %.
    assert len({value for _, value, stage in before if stage == "image-to-video"}) >= 4, trace
    assert page.get_attribute("#job-progress-bar", "value") == "100.0"
