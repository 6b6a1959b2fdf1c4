"""An API key's owner, in Chromium: the key runs real jobs on the demo's network, and the owner's page
shows them by day and pipeline, with the fees through the one formatter and the daily limit."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.browser.conftest import assert_no_horizontal_scroll, log_in, screenshot

PASSWORD = "a-long-browser-passphrase"


def test_the_owner_sees_what_the_key_ran_and_spent(new_page, demo_site):
    username = f"apiowner{uuid.uuid4().hex[:6]}"
    issued = demo_site.shell(
        "from django.contrib.auth import get_user_model; from livepeer_ai.gateway.models import ApiKey; "
        f"owner = get_user_model().objects.create_user({username!r}, password={PASSWORD!r}); "
        "key, secret = ApiKey.issue('render farm', owner=owner); "
        "ApiKey.objects.filter(pk=key.pk).update(daily_spend_limit_wei=5 * 10**15); print(secret)"
    )
    secret = issued.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    for seed in (1, 2):
        body = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": seed}
        answer = httpx.post(
            f"{demo_site.url}/api/v1/text-to-image", content=json.dumps(body), headers=headers, timeout=180
        )
        assert answer.status_code == 200, (answer.text, demo_site.logs())
    usage = httpx.get(f"{demo_site.url}/api/v1/usage", headers=headers, timeout=30).json()
    assert usage["total"]["jobs"] == 2 and int(usage["total"]["fees_wei"]) > 0, usage

    page = new_page()
    log_in(page, username, PASSWORD)
    page.click("#nav-api-keys")
    page.wait_for_selector("table.usage")
    assert page.locator("table.usage tbody tr").count() == 1
    assert "text-to-image" in page.inner_text("table.usage")
    assert "none" not in page.inner_text(".spend-limit")
    assert_no_horizontal_scroll(page)
    screenshot(page, "api-key-usage")
