"""Browser tests: Debian's Chromium driven by Playwright against the demo's processes.

One site for the browser files, as `make demo` runs it (off chain): a private Redis, two
orchestrator nodes (each selling its own warm runners of the session's fleet),
daphne and a Celery worker with beat, on a private SQLite database seeded by
`seed_demo`. Playwright's own browser download needs the internet, so the
browser is `/usr/bin/chromium` (`make test` installs it).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.conftest import (
    HTTP,
    OPERATOR_KEY,
    OTHER_OPERATOR_KEY,
    PYTHON,
    ROOT,
    ManagedProcess,
    fresh_registry,
    wait_for,
)
from tests.processes import start_daphne, start_engine, start_orchestrator, start_worker
from tests.zygote import end, exchange

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts,
# which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "docs" / "screenshots"))
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}

pytestmark = pytest.mark.integration


# The site's shell: one process that has set Django up runs each snippet the tests send (a JSON
# string a line) and answers with what it printed. A `manage.py shell` per snippet spent two seconds
# of CPU each on setting Django up.
SHELL = """
import contextlib, io, json, os, sys, traceback
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
import django
django.setup()
for line in sys.stdin:
    printed, ok = io.StringIO(), True
    with contextlib.redirect_stdout(printed):
        try:
            exec(json.loads(line), {"__name__": "__main__"})
        except BaseException:
            ok = False
            traceback.print_exc(file=printed)
    sys.stdout.write(json.dumps({"ok": ok, "printed": printed.getvalue()}) + "\\n")
    sys.stdout.flush()
"""


@dataclass
class DemoSite:
    url: str
    env: dict[str, str]
    processes: list[ManagedProcess]
    shell_process: subprocess.Popen[str] | None = None

    def python(self, *args: str) -> str:
        """Run Python (a script or `-m module`) against the site's database; its stdout."""
        result = subprocess.run([PYTHON, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def manage(self, *args: str) -> str:
        """Run a management command against the site's database; its stdout."""
        return self.python("manage.py", *args)

    def shell(self, code: str) -> str:
        """Run Python against the site's database, Django set up; what it printed."""
        if self.shell_process is None:
            self.shell_process = subprocess.Popen(
                [PYTHON, "-c", SHELL], cwd=ROOT, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        reply = exchange(self.shell_process, code)
        assert reply is not None, f"the site's shell exited ({self.shell_process.wait()})"
        assert reply["ok"], reply["printed"]
        return str(reply["printed"])

    def stop(self) -> None:
        try:
            if self.shell_process is not None:
                end(self.shell_process)
        finally:
            for process in reversed(self.processes):
                process.stop()

    def logs(self) -> str:
        return "\n\n".join(f"== {p.name}\n{p.log_tail(60)}" for p in self.processes)


@pytest.fixture(scope="package")
def demo_site(
    stack_env: dict[str, str], runners: Any, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoSite]:
    """One site for every browser file (they run together, tests/conftest.py), stopped after the last:
    idle, its nodes, engine and beat still cost CPU the rest of the suite needs. While it lives it
    keeps to itself: its own var dir and database (a copy of the run's, the tiny models registered), and its own
    Redis database, so its worker never takes another test's jobs."""
    log_dir = tmp_path_factory.mktemp("demo-site")
    env = {
        **stack_env,
        "LIVEPEER_VAR_DIR": str(log_dir / "var"),
        "DATABASE_URL": fresh_registry(tmp_path_factory, log_dir),
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + "/1",
    }
    site = DemoSite(url="", env=env, processes=[])
    site.manage("seed_demo")
    try:
        # As in the demo: node 1 also sells upscale, image-to-text and llm, node 2 frame interpolation and
        # the second text-to-image model the demo's round offers.
        node_runners = [
            ("text-to-image", "image-to-video", "upscale", "image-to-text", "llm"),
            ("text-to-image-b", "image-to-video-b", "frame-interpolation", "text-to-image-sd15"),
        ]
        for index, (key, names) in enumerate(zip((OPERATOR_KEY, OTHER_OPERATOR_KEY), node_runners, strict=True)):
            urls = {name: runners.url(name) for name in names}
            site.processes.append(start_orchestrator(env, log_dir, key, urls, name=f"orchestrator{index + 1}"))
        env["ORCHESTRATOR_URLS"] = ",".join(p.url for p in site.processes)
        site.processes.append(start_worker(env, log_dir, beat=True))
        site.processes.append(start_engine(env, log_dir))
        web = start_daphne(env, log_dir)
        site.processes.append(web)
        site.url = web.url
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """One browser for the browser files (each launch is a dozen processes), stopped after the last of
    them: Playwright's sync API keeps an event loop running in this thread until it stops, and the
    tests that follow (other files, run on the same process) need none."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium: Any, demo_site: DemoSite) -> Iterator[Any]:
    """`new_page(viewport=PHONE)` → a page in a fresh browser context (own cookies), closed after the test."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        context = chromium.new_context(viewport=viewport or DESKTOP, base_url=demo_site.url)
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as docs/screenshots/<name>.png (the README shows these)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px viewport"


def log_in(page: Any, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    page.wait_for_selector("#nav-logout")


# The one seam faked in the browser: a page script stands in for MetaMask (EIP-1193) and
# hands personal_sign to Python, which signs with the test key.
WALLET = """
window.ethereum = {
  isTestWallet: true,
  request: async ({method, params}) => {
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [ADDRESS];
    if (method === "personal_sign") return await window.testWalletSign(params[0], params[1]);
    throw new Error("test wallet: unsupported method " + method);
  },
};
"""


def with_wallet(page: Any, key: str) -> str:
    """Give the page a browser wallet holding `key`; its address."""
    account = Account.from_key(key)

    def sign(message_hex: str, address: str) -> str:
        assert address.lower() == account.address.lower()
        signed = account.sign_message(encode_defunct(hexstr=message_hex))
        return "0x" + signed.signature.hex().removeprefix("0x")

    page.expose_function("testWalletSign", sign)
    page.add_init_script(WALLET.replace("ADDRESS", f'"{account.address}"'))
    return str(account.address)


def wait_until_the_gateway_knows(site: DemoSite, address: str) -> None:
    """The dashboard's beat task has fetched the node (only known nodes may sign in)."""
    wait_for(lambda: address in HTTP.get(f"{site.url}/network/", timeout=10).text, 60, f"{address} listed")


def sign_in_with_wallet(page: Any, site: DemoSite, key: str) -> str:
    """Sign in as the node of `key` through the wallet button; lands on the node's page."""
    address = with_wallet(page, key)
    wait_until_the_gateway_knows(site, address)
    page.goto("/dashboard/login/")
    page.click("#siwe-connect")
    page.wait_for_url(re.compile(rf"/dashboard/nodes/{address}/$"), timeout=30_000)
    return address
