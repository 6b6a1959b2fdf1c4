"""No silent refusals: whatever stops "Generate" (a rule, a server error, no connection) is said
next to the button in plain words, and announced (role="alert")."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.test_studio_browser import sign_up

VIDEO_MODELS = 'ModelEntry.objects.filter(pipeline="image-to-video")'


def generate(page):
    page.fill("#id_prompt", "a fox in the snow")
    page.click("#generate")


def alert_next_to_the_form(page) -> str:
    return page.locator('#prompt-form [role="alert"]').first.inner_text(timeout=10_000)


@pytest.fixture
def member_page(new_page):
    page = new_page()
    sign_up(page, f"refused-{uuid.uuid4().hex[:6]}")
    return page


def test_a_refusal_with_503_is_shown_next_to_the_button(member_page, demo_site):
    model = "from livepeer_ai.registry.models import ModelEntry; "
    demo_site.shell(model + VIDEO_MODELS + '.update(status="disabled")')
    try:
        generate(member_page)
        assert "can't be made with these stages right now" in alert_next_to_the_form(member_page)
    finally:
        demo_site.shell(model + VIDEO_MODELS + '.update(status="approved")')
    assert member_page.is_visible("#generate")  # the form stays, to try again


def test_a_server_error_is_said_in_plain_words(member_page):
    member_page.route("**/jobs/", lambda route: route.fulfill(status=502, body="bad gateway"))
    generate(member_page)
    assert "Something went wrong on our side (error 502)" in alert_next_to_the_form(member_page)


def test_no_connection_is_said_and_cleared_on_the_next_try(member_page):
    member_page.route("**/jobs/", lambda route: route.abort("internetdisconnected"))
    generate(member_page)
    assert "could not be reached" in alert_next_to_the_form(member_page)

    member_page.unroute("**/jobs/")
    member_page.route("**/jobs/", lambda route: route.fulfill(status=500, body=""))
    with member_page.expect_response("**/jobs/"):
        member_page.click("#generate")
    member_page.locator("[data-request-error]", has_text="error 500").wait_for(timeout=20_000)
    assert member_page.locator("[data-request-error]").count() == 1
