"""The operator dashboard in Chromium: Sign-In with Ethereum through a browser wallet holding a
test key (anvil's development account 1, the node's), the node's page with live capacity from
the real node, and the public network overview."""

from __future__ import annotations

import re

from eth_account import Account

from tests.browser.conftest import (
    PHONE,
    assert_no_horizontal_scroll,
    screenshot,
    sign_in_with_wallet,
    wait_until_the_gateway_knows,
    with_wallet,
)
from tests.conftest import OPERATOR_KEY, OTHER_OPERATOR_KEY


def test_an_operator_signs_in_with_a_wallet_and_sees_only_their_node(new_page, demo_site):
    # Thirty days of history beside the live nodes, so the charts and tables have something to show.
    demo_site.python("-m", "bench.seed_dashboard", "--jobs", "400", "--tickets", "4000", "--nodes", "2")
    page = new_page()
    address = with_wallet(page, OPERATOR_KEY)
    wait_until_the_gateway_knows(demo_site, address)

    page.goto("/dashboard/")
    page.wait_for_url(re.compile(r"/dashboard/login/"))
    page.click("#siwe-connect")
    page.wait_for_url(re.compile(rf"/dashboard/nodes/{address}/$"), timeout=30_000)
    assert page.inner_text("#node-address") == address
    # Live capacity of the real node, pushed by the refresh task: its warm text-to-image pool.
    page.wait_for_selector('#capacity tr[data-pipeline="text-to-image"]', timeout=30_000)
    assert page.locator("#earnings-section svg").count() >= 1
    page.click("#period-7d")
    page.wait_for_selector('#period[data-period="7d"]')
    screenshot(page, "dashboard-operator")

    # Another node's private pages do not exist for this operator.
    other = Account.from_key(OTHER_OPERATOR_KEY).address
    assert page.goto(f"/dashboard/nodes/{other}/").status == 404
    page.goto(f"/dashboard/nodes/{address}/tickets/?status=redeemed")
    assert page.locator("#csv-export-link, a[href$='tickets.csv']").count() >= 1
    screenshot(page, "dashboard-tickets")

    phone = new_page(viewport=PHONE)
    sign_in_with_wallet(phone, demo_site, OPERATOR_KEY)
    assert_no_horizontal_scroll(phone)


def test_a_wallet_holding_another_key_cannot_open_the_node(new_page, demo_site):
    page = new_page()
    stranger = with_wallet(page, "0x" + "42" * 32)
    page.goto("/dashboard/login/")
    page.click("#siwe-connect")
    page.wait_for_selector("#siwe-status.error, #signin-error", timeout=30_000)
    assert stranger not in page.url
    assert page.goto("/dashboard/").url.rstrip("/").endswith(("/dashboard/login", "/dashboard/login/?next=/dashboard"))


def test_the_network_overview_is_public_and_fits_a_phone(new_page, demo_site):
    page = new_page()
    page.goto("/network/")
    page.wait_for_selector("#orchestrator-table")
    screenshot(page, "dashboard-network")
    phone = new_page(viewport=PHONE)
    phone.goto("/network/")
    assert_no_horizontal_scroll(phone)
