from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """django-ratelimit counts in the cache; each test starts with none spent."""
    cache.clear()
    yield
    cache.clear()


def open_login_link(browser: httpx.Client, link: str) -> httpx.Response:
    """What an operator does with a printed link: open it, then press the sign-in button."""
    page = browser.get(link)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    fields = {name: html.unescape(value) for name, value in fields.items()}
    return browser.post(str(page.url).split("?")[0], data=fields)
