"""Screenshots of the cost page and the operator page's GPU-hour earnings and pricing helper.

    .venv/bin/python -m bench.cost_screenshots [--output docs/screenshots]

A private site in a temporary directory: a fresh SQLite database seeded with 30
days of dashboard history (`bench.dashboard_seeding`: seeded jobs pay the demo's
price and record a $3,000 rate), ETH/USD configured at $3,000 (labelled so on the
pages), daphne on a free port, and Debian's Chromium through Playwright signed in
as the first seeded node's operator. Writes network-costs.png and
dashboard-operator-costs.png, and api-key-usage.png: a member's API key with a daily
limit and a week of its one-stage jobs, paid at the demo's price as the seeded ones
are, on the owner's page. Daphne is stopped by the PID this script started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.stack import HTTP
from livepeer_ai.ports import free_port

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DESKTOP = {"width": 1280, "height": 900}
USD_PER_ETH = "3000"


def site_env(work: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "LIVEPEER_VAR_DIR": str(work / "var"),
        "DATABASE_URL": f"sqlite:///{work}/db.sqlite3",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "WEB3_PROVIDER_URI": "",
        "ETH_USD_FEED_ADDRESS": "",
        "ETH_USD_PRICE": USD_PER_ETH,
        "HF_HUB_OFFLINE": "1",
        "DJANGO_SETTINGS_MODULE": "livepeer_ai.settings",
    }
    env.pop("REDIS_URL", None)
    return env


def seed_api_customer() -> Any:
    """A member with an API key (a daily limit) and a week of its one-stage API jobs on the seeded nodes."""
    import random
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from bench.dashboard_seeding import STAGES, USD_PER_ETH_E8, attempt
    from livepeer_ai.gateway.models import ApiKey, Job, JobStatus, Orchestrator, StageAttempt

    rng = random.Random(2)
    member = get_user_model().objects.create_user("render-farm-owner")
    key = ApiKey.issue("render farm", owner=member)[0]
    ApiKey.objects.filter(pk=key.pk).update(daily_spend_limit_wei=5 * 10**16)
    nodes = list(Orchestrator.objects.all())
    now = timezone.now()
    for day in range(7):
        for pipeline, model_id, units, steps, typical_s in STAGES:
            for _ in range(rng.randint(1, 4) if pipeline != "upscale" else rng.randint(0, 2)):
                created = now - timedelta(days=day, seconds=rng.uniform(0, 3600))
                job = Job.objects.create(
                    prompt="api job",
                    api_key=key,
                    stages=[pipeline],
                    parameters={"api": True},
                    status=JobStatus.SUCCEEDED,
                    created_at=created,
                    usd_per_eth_e8=USD_PER_ETH_E8,
                    usd_rate_source="configured",
                )
                done = attempt(job, rng.choice(nodes), pipeline, model_id, units, steps, created, rng, 200, typical_s)
                StageAttempt.objects.bulk_create([done])
    return member


def prepare(env: dict[str, str]) -> tuple[str, str, str]:
    """Migrate, seed and sign in, in this process on the site's database:
    (operator address, the operator's session cookie, the API key owner's)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from bench.dashboard_seeding import seed
    from dashboard.models import Operator

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    report = seed(jobs=2000, tickets=20000, nodes=2, rng_seed=1)
    address = report.nodes[0]
    operator = Operator.for_address(address)
    client = Client()
    client.force_login(operator.user)
    owner = Client()
    owner.force_login(seed_api_customer())
    return address, client.cookies["sessionid"].value, owner.cookies["sessionid"].value


def start_daphne(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "livepeer_ai.asgi:application"],
            cwd=ROOT,
            env={**env, "CSRF_TRUSTED_ORIGINS": base},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited: {log.read_text()[-2000:]}")
        try:
            if HTTP.get(base + "/network/", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"daphne did not answer in 60 s: {log.read_text()[-2000:]}")


def take(base: str, address: str, session: str, owner_session: str, output: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    output.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context: Any = browser.new_context(viewport=DESKTOP, base_url=base)
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            page.goto("/network/costs/")
            page.wait_for_selector("#cloud-comparison")
            shots.append(output / "network-costs.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            page.goto(f"/dashboard/nodes/{address}/?period=30d")
            page.fill("#id_gpu_usd_per_hour", "1.50")
            page.select_option("#id_cloud", index=3)  # Replicate's A100
            page.click("#pricing-form button[type=submit]")
            page.wait_for_selector("#pricing tbody tr")
            section = page.locator("#gpu-hours-section, #pricing-section")
            section.first.scroll_into_view_if_needed()
            shots.append(output / "dashboard-operator-costs.png")
            page.locator("#period").screenshot(path=str(shots[-1]))
            owner: Any = browser.new_context(viewport=DESKTOP, base_url=base)
            owner.add_cookies([{"name": "sessionid", "value": owner_session, "url": base}])
            usage = owner.new_page()
            usage.goto("/accounts/api-keys/")
            usage.wait_for_selector("table.usage tbody tr")
            shots.append(output / "api-key-usage.png")
            usage.screenshot(path=str(shots[-1]), full_page=True)
        finally:
            browser.close()
    return shots


def screenshot_site(
    description: str, prefix: str, prepare: Callable[[dict[str, str]], T], take: Callable[[str, T, Path], list[Path]]
) -> None:
    """The screenshot scripts' one command line: seed a private site (`prepare`), serve it with daphne,
    `take` the pictures into --output, print their paths, stop the site."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix=prefix) as work_dir:
        work = Path(work_dir)
        env = site_env(work)
        seeded = prepare(env)
        daphne, base = start_daphne(env, work / "daphne.log")
        try:
            for path in take(base, seeded, args.output):
                print(path)
        finally:
            daphne.terminate()
            daphne.wait(timeout=20)


def main() -> None:
    screenshot_site(
        __doc__.splitlines()[0],
        "cost-screenshots-",
        prepare,
        lambda base, seeded, output: take(base, *seeded, output),
    )


if __name__ == "__main__":
    main()
