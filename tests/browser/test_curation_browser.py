"""Model curation in Chromium: an operator proposes a model, an admin approves it, the audit
trail says who did what; the public list shows it once approved."""

from __future__ import annotations

import uuid

from tests.browser.conftest import PHONE, assert_no_horizontal_scroll, log_in, screenshot, sign_in_with_wallet
from tests.conftest import OPERATOR_KEY


def test_an_operator_proposes_a_model_and_an_admin_approves_it(new_page, demo_site):
    model_id = f"example/sdxl-lightning-{uuid.uuid4().hex[:6]}"
    operator = new_page()
    address = sign_in_with_wallet(operator, demo_site, OPERATOR_KEY)
    operator.goto("/dashboard/models/")
    operator.click("#propose-model")
    operator.select_option("#id_pipeline", "text-to-image")
    operator.fill("#id_model_id", model_id)
    operator.select_option("#id_family", "sdxl-turbo")
    operator.fill("#id_pinned_revision", "c9d1d1e0a6f0ae1d3b4fbd3c4a0d6f1c2d9b7e11")
    operator.fill("#id_licence", "openrail++")
    operator.check("#id_commercial_use")
    operator.fill("#id_local_path", "/models/sdxl-lightning")
    operator.fill("#id_memory_mb", "9000")
    operator.click("#propose-form button[type=submit]")
    operator.wait_for_selector('#entry-status[data-status="pending"]')
    entry_url = operator.url

    # Pending: not on the public list yet.
    visitor = new_page()
    visitor.goto("/dashboard/models/")
    assert model_id not in visitor.inner_text("#model-table")

    admin = new_page()
    log_in(admin, "admin", "admin-demo-pass")
    admin.goto(entry_url)
    admin.fill("#status-form textarea", "licence checked")
    admin.click("#status-approved")
    admin.wait_for_selector('#entry-status[data-status="approved"]')
    trail = admin.inner_text("#audit-trail")
    assert "admin" in trail and f"operator:{address}" in trail and "licence checked" in trail
    screenshot(admin, "curation-entry")

    visitor.goto("/dashboard/models/")
    assert model_id in visitor.inner_text("#model-table")
    screenshot(visitor, "curation-list")
    phone = new_page(viewport=PHONE)
    phone.goto("/dashboard/models/")
    assert_no_horizontal_scroll(phone)
