"""Password guessing is throttled on every form that takes a password or sends one: the admin's sign-in,
the studio's, a password change and a password reset, per client IP and per account, answered with 429."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from tests.conftest import ROOT
from tests.studio.conftest import text_of

pytestmark = pytest.mark.django_db

SIGN_INS = ["/admin/login/", "/accounts/login/"]


def guess(path: str, username: str, password: str, ip: str = "203.0.113.7") -> int:
    """One try from a fresh browser at `ip`: the status the form answered."""
    return Client(REMOTE_ADDR=ip).post(path, {"username": username, "password": password}).status_code


@pytest.fixture(autouse=True)
def login_rate(settings):
    settings.LOGIN_RATE = "10/5m"
    settings.PASSWORD_RESET_RATE = "3/h"


@pytest.mark.parametrize("path", SIGN_INS)
def test_twenty_wrong_passwords_in_a_row_are_refused_after_ten(path, personas):
    answers = [guess(path, "admin", f"wrong-{n}") for n in range(20)]
    assert answers == [200] * 10 + [429] * 10
    # Over the limit the right password waits too, or guessing would go on and tell when it hit.
    assert guess(path, "admin", "admin-pass-1234") == 429


@pytest.mark.parametrize("path", SIGN_INS)
def test_the_limit_says_so_and_when_to_come_back(path, personas):
    for n in range(10):
        guess(path, "admin", f"wrong-{n}")
    refused = Client(REMOTE_ADDR="203.0.113.7").post(path, {"username": "admin", "password": "x"})
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 300
    assert "Too many tries for this account or from your address." in text_of(refused)


def test_guesses_spread_over_addresses_still_count_against_the_account(personas):
    answers = [guess("/admin/login/", "Admin", f"wrong-{n}", ip=f"198.51.100.{n}") for n in range(11)]
    assert answers[-1] == 429
    # Another account from a fresh address is untouched, and signs in.
    response = Client(REMOTE_ADDR="192.0.2.1").post(
        "/accounts/login/", {"username": "member", "password": "member-pass-1234"}
    )
    assert response.status_code == 302


def test_one_address_guessing_many_accounts_is_limited(personas):
    answers = [guess("/accounts/login/", f"someone-{n}", "password") for n in range(11)]
    assert answers[-1] == 429


def test_the_admin_and_the_studio_share_one_budget_per_account(personas):
    for n in range(5):
        guess("/admin/login/", "admin", f"wrong-{n}", ip="198.51.100.1")
        guess("/accounts/login/", "admin", f"wrong-{n}", ip="198.51.100.2")
    assert guess("/accounts/login/", "admin", "admin-pass-1234", ip="198.51.100.3") == 429


def test_a_signed_in_member_guessing_their_old_password_is_limited(personas):
    client = Client(REMOTE_ADDR="203.0.113.9")
    client.force_login(personas.member)
    form = {"old_password": "wrong", "new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"}
    answers = [client.post("/accounts/password_change/", form).status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]


def test_password_reset_mails_are_limited_per_address(personas):
    personas.member.email = "member@example.com"
    personas.member.save()
    answers = [
        Client(REMOTE_ADDR=f"198.51.100.{n}").post("/accounts/password_reset/", {"email": "Member@example.com"})
        for n in range(5)
    ]
    assert [a.status_code for a in answers] == [302] * 3 + [429] * 2
    assert len(mail.outbox) == 3


def test_opening_the_forms_costs_nothing(personas):
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert [client.get("/accounts/login/").status_code for _ in range(15)] == [200] * 15
    assert guess("/accounts/login/", "member", "member-pass-1234") == 302


CROSS_PROCESS_GUESS = """
from django.test import Client
answer = Client(REMOTE_ADDR="203.0.113.7").post("/accounts/login/", {"username": "admin", "password": "x"})
print(answer.status_code)
"""


def test_with_redis_every_process_counts_in_one_place(personas, redis_url, settings, tmp_path):
    # As settings.py configures the cache when REDIS_URL is set; a second web process follows.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    try:
        assert [guess("/admin/login/", "admin", f"wrong-{n}") for n in range(10)] == [200] * 10
        env = {**os.environ, "REDIS_URL": redis_url, "LIVEPEER_VAR_DIR": str(tmp_path)}
        other = subprocess.run(
            [sys.executable, "manage.py", "shell", "-v0", "-c", CROSS_PROCESS_GUESS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert other.stdout.strip() == "429", other.stdout + other.stderr
    finally:
        cache.clear()
