"""Production fails closed: no secret key, no start; HTTPS=true passes `check --deploy` and acts on requests.

Settings are read once, when a process starts, so each case starts a fresh one with its own environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration  # every case starts a process

A_REAL_KEY = "k3y-f0r-th1s-test-0nly-" + "x9Qz" * 10

# Reports what a request through Django's whole stack gets back, as the settings left it.
PROBE = """
import json
from django.test import Client
plain = Client().get("/accounts/login/")
proxied = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "proxied": [proxied.status_code, proxied.get("Strict-Transport-Security", "")],
    "csrf_cookie_secure": bool(proxied.cookies["csrftoken"]["secure"]),
}))
"""


def run_django(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """`python <args>` in the repository with the app's settings and only the given settings variables."""
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "HTTPS", "REDIS_URL"}}
    clean.update(DJANGO_SETTINGS_MODULE="livepeer_ai.settings", **env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_production_without_a_secret_key_refuses_to_start():
    result = run_django(["manage.py", "check"], DEBUG="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set and DEBUG is false" in result.stderr


def test_the_asgi_application_refuses_too():
    result = run_django(["-c", "import livepeer_ai.asgi"])
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_starts_without_a_secret_key_and_production_with_one():
    assert run_django(["manage.py", "check"], DEBUG="true").returncode == 0
    assert run_django(["manage.py", "check"], DEBUG="false", SECRET_KEY=A_REAL_KEY).returncode == 0


def test_https_makes_check_deploy_clean():
    result = run_django(["manage.py", "check", "--deploy"], DEBUG="false", SECRET_KEY=A_REAL_KEY, HTTPS="true")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_without_https_check_deploy_names_what_is_missing():
    result = run_django(["manage.py", "check", "--deploy"], DEBUG="false", SECRET_KEY=A_REAL_KEY)
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_https_redirects_plain_http_and_sends_hsts_and_secure_cookies_behind_the_proxy():
    result = run_django(
        ["manage.py", "shell", "-c", PROBE], DEBUG="false", SECRET_KEY=A_REAL_KEY, HTTPS="true", HSTS_SECONDS="600"
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://testserver/accounts/login/"]
    assert seen["proxied"] == [200, "max-age=600; includeSubDomains; preload"]
    assert seen["csrf_cookie_secure"] is True


def test_a_bad_https_value_is_refused():
    result = run_django(["manage.py", "check"], DEBUG="false", SECRET_KEY=A_REAL_KEY, HTTPS="sometimes")
    assert result.returncode != 0
    assert "HTTPS must be a boolean" in result.stderr
