"""The demo's processes for real: Redis, daphne, a Celery worker, runners, a WebSocket client.

The socket is opened before any worker exists and left idle for more than 5 s:
with redis-py 8 and channels_redis a socket_timeout of 5 s would kill the
consumer right there (docs/architecture.md, "Traps in the stack"); it must still receive every step after.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import HTTP, PYTHON, ROOT, wait_for
from tests.processes import empty_queue, start_daphne, start_engine, start_orchestrator

pytestmark = pytest.mark.integration

STEP = re.compile(r'<span class="step">(\d+)</span> / <span class="total">(\d+)</span>')
STATUS = re.compile(r'data-status="(\w+)"')
# The running stage, as the page names it (studio/progress.STAGE_LABELS).
STAGE = re.compile(r"<strong>([^<]+)</strong>")


NODE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


@pytest.fixture
def orchestrator(stack_env: dict[str, str], runners: Any, tmp_path: Any) -> Iterator[str]:
    """A real orchestrator process selling the session's runners."""
    urls = {name: runners.url(name) for name in ("text-to-image", "image-to-video")}
    process = start_orchestrator(stack_env, tmp_path, NODE_KEY, urls)
    try:
        yield process.url
    finally:
        process.stop()


@pytest.fixture
def live_env(stack_env: dict[str, str], redis_url: str, orchestrator: str) -> dict[str, str]:
    # Other tests leave jobs waiting in the stack's database (no engine ran for them): this test's
    # engine must not spend its node on them first.
    empty_queue(stack_env)
    return {**stack_env, "REDIS_URL": redis_url, "ORCHESTRATOR_URLS": orchestrator}


@pytest.fixture
def web(live_env: dict[str, str], tmp_path: Any) -> Iterator[str]:
    process = start_daphne(live_env, tmp_path)
    try:
        yield process.url
    finally:
        process.stop()


def submit_prompt(base: str, prompt: str) -> tuple[str, str]:
    """Sign up a fresh member (only members create), then submit the prompt as the form does: the job's id,
    and the member's session cookie (only its maker sees a GIF the safety checker never passed)."""
    with httpx.Client(base_url=base, timeout=10) as client:
        client.get("/accounts/signup/")
        password = "live-stack-passphrase"
        signup = client.post(
            "/accounts/signup/",
            data={
                "username": f"live-{uuid.uuid4().hex[:8]}",
                "email": "live@example.com",
                "password1": password,
                "password2": password,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": base + "/accounts/signup/"},
        )
        assert signup.status_code == 302, signup.text
        response = client.post(
            "/jobs/",
            # Logging in rotates the CSRF token.
            data={"prompt": prompt, "seed": "3", "csrfmiddlewaretoken": client.cookies["csrftoken"]},
            headers={"Referer": base + "/"},
        )
    assert response.status_code == 302, response.text
    return response.headers["location"].strip("/").split("/")[-1], f"sessionid={client.cookies['sessionid']}"


def test_a_prompt_becomes_a_gif_with_live_progress_over_a_socket_idle_past_5s(web, live_env, tmp_path):
    job_id, session = submit_prompt(web, "a pixel art robot")
    ws_url = web.replace("http://", "ws://") + f"/ws/jobs/{job_id}/"
    worker = None
    with connect(ws_url, origin=web, open_timeout=10, additional_headers={"Cookie": session}) as socket:
        assert STATUS.search(socket.recv(timeout=10)).group(1) == "queued"
        # No engine yet: nothing happens for 6 s, and the socket must survive it.
        idle_started = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.recv(timeout=6)
        assert time.monotonic() - idle_started >= 6
        worker = start_engine(live_env, tmp_path)
        try:
            seen: list[tuple[str, int, int]] = []
            status = "queued"
            deadline = time.monotonic() + 120
            while status not in {"succeeded", "failed", "canceled"}:
                assert time.monotonic() < deadline, f"job did not finish\n{worker.log_tail()}"
                html = socket.recv(timeout=60)
                status = STATUS.search(html).group(1)
                step, stage = STEP.search(html), STAGE.search(html)
                if step and stage:
                    seen.append((stage.group(1), int(step.group(1)), int(step.group(2))))
            final = html
        finally:
            worker.stop()
    assert status == "succeeded", final
    # The default studio job runs 6 text-to-image steps then 12 image-to-video steps.
    assert [s for stage, s, _ in seen if stage == "First frame"] == list(range(1, 7))
    assert [s for stage, s, _ in seen if stage == "Video"] == list(range(1, 13))
    gif_url = re.search(r'<img src="([^"]+\.gif)"', final).group(1)
    gif = HTTP.get(web + gif_url, headers={"Cookie": session}, timeout=10)
    assert gif.status_code == 200
    assert HTTP.get(web + gif_url, timeout=10).status_code == 404  # a visitor, never checked
    assert gif.content[:6] in {b"GIF87a", b"GIF89a"}
    # A reload renders the finished job from the database.
    page = HTTP.get(f"{web}/jobs/{job_id}/", timeout=10).text
    assert 'data-status="succeeded"' in page


def issue_api_key(stack_env: dict[str, str]) -> str:
    script = "from livepeer_ai.gateway.models import ApiKey; print(ApiKey.issue('live')[1])"
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=stack_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_api_streams_progress_while_the_job_runs_and_a_waiting_call_blocks_no_page(web, live_env, stack_env, tmp_path):
    headers = {"Authorization": f"Bearer {issue_api_key(stack_env)}"}
    long_job = {"prompt": "live api", "width": 512, "height": 512, "num_inference_steps": 40, "seed": 2}
    worker = start_engine(live_env, tmp_path)
    try:
        accepted = HTTP.post(
            f"{web}/api/v1/text-to-image", json=long_job, timeout=30, headers={**headers, "Prefer": "respond-async"}
        )
        assert accepted.status_code == 202, accepted.text
        arrivals: list[tuple[str, float]] = []
        with HTTP.stream(
            "GET", f"{web}/api/v1/jobs/{accepted.json()['request_id']}/events", headers=headers, timeout=120
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    arrivals.append((line[7:], time.monotonic()))
        kinds = [kind for kind, _ in arrivals]
        assert kinds[-1] == "result" and "progress" in kinds
        first_progress = next(at for kind, at in arrivals if kind == "progress")
        # Streamed as it happens, not buffered to the end.
        assert arrivals[-1][1] - first_progress > 0.5

        # A synchronous call waits for its job without holding up other requests.
        outcome: dict[str, Any] = {}
        caller = threading.Thread(
            target=lambda: outcome.update(
                response=HTTP.post(f"{web}/api/v1/text-to-image", json=long_job, headers=headers, timeout=120)
            )
        )
        caller.start()
        node = live_env["ORCHESTRATOR_URLS"]

        def sync_job_running() -> bool:
            offered = HTTP.get(f"{node}/info", timeout=5).json()["capabilities"]
            return any(c["pipeline"] == "text-to-image" and c["in_use"] == 1 for c in offered)

        wait_for(sync_job_running, 60, "the synchronous call's job to be running")
        assert HTTP.get(f"{web}/", timeout=10).status_code == 200
        assert caller.is_alive(), "the synchronous call should still be waiting for its job"
        caller.join(timeout=120)
        assert outcome["response"].status_code == 200
        assert outcome["response"].json()["images"][0]["seed"] == 2
    finally:
        worker.stop()
