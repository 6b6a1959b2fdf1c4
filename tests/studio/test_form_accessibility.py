"""Forms tie each input to its help text and its error: every id an input's aria-describedby names is on the page,
and an input with an error names that error and says it is invalid."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.studio.factories import make_entry, make_round


class Inputs(HTMLParser):
    """Every element's id, and the form controls with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.controls: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if "id" in found:
            self.ids.add(found["id"])
        if tag in {"input", "select", "textarea"} and found.get("type") not in {"hidden", "submit"}:
            self.controls[found.get("name", "")] = found


def controls_of(response) -> Inputs:
    page = Inputs()
    page.feed(response.content.decode())
    assert page.controls, "the page has a form"
    return page


def assert_descriptions_exist(page: Inputs) -> None:
    for name, attrs in page.controls.items():
        for described_by in attrs.get("aria-describedby", "").split():
            assert described_by in page.ids, f"{name}: aria-describedby names #{described_by}, which is not on the page"


def assert_error_linked(page: Inputs, name: str) -> None:
    attrs = page.controls[name]
    assert attrs.get("aria-invalid") == "true"
    assert f"{attrs['id']}_error" in attrs.get("aria-describedby", "").split()
    assert f"{attrs['id']}_error" in page.ids


@pytest.mark.django_db
def test_sign_up_inputs_point_at_their_help_and_errors(client, personas):
    page = controls_of(client.get("/accounts/signup/"))
    assert_descriptions_exist(page)
    assert page.controls["email"]["aria-describedby"] == "id_email_helptext"
    response = client.post("/accounts/signup/", {"username": "member", "email": "nope", "password1": "x"})
    page = controls_of(response)
    assert_descriptions_exist(page)
    for name in ("username", "email", "password2"):
        assert_error_linked(page, name)


@pytest.mark.django_db
def test_log_in_and_password_reset_inputs_point_at_what_exists(client, personas):
    for url in ("/accounts/login/", "/accounts/password_reset/"):
        assert_descriptions_exist(controls_of(client.get(url)))
    page = controls_of(client.post("/accounts/password_reset/", {"email": "not an address"}))
    assert_descriptions_exist(page)
    assert_error_linked(page, "email")


@pytest.mark.django_db
def test_password_change_and_set_inputs_point_at_their_help_and_errors(client, personas):
    client.force_login(personas.member)
    page = controls_of(client.get("/accounts/password_change/"))
    assert_descriptions_exist(page)
    assert "id_new_password1_helptext" in page.controls["new_password1"]["aria-describedby"].split()
    page = controls_of(client.post("/accounts/password_change/", {"old_password": "wrong"}))
    assert_descriptions_exist(page)
    assert_error_linked(page, "old_password")
    client.logout()
    uid = urlsafe_base64_encode(force_bytes(personas.member.pk))
    token = default_token_generator.make_token(personas.member)
    page = controls_of(client.get(f"/accounts/reset/{uid}/{token}/", follow=True))
    assert_descriptions_exist(page)


@pytest.mark.django_db
def test_prompt_form_inputs_point_at_their_help_and_errors(client, personas):
    client.force_login(personas.member)
    page = controls_of(client.get("/"))
    assert_descriptions_exist(page)
    for name in ("negative_prompt", "style", "seed", "fps", "upscale", "interpolate"):
        assert page.controls[name]["aria-describedby"] == f"id_{name}_helptext"
    response = client.post("/jobs/", {"prompt": "", "seed": "-1", "fps": "99"})
    assert response.status_code == 400
    page = controls_of(response)
    assert_descriptions_exist(page)
    for name in ("prompt", "seed", "fps"):
        assert_error_linked(page, name)


@pytest.mark.django_db
def test_report_details_show_their_error_where_the_input_points(client, personas, other_member):
    entry = make_entry(personas.member, make_round())
    client.force_login(other_member)
    response = client.post(f"/entries/{entry.pk}/report/", {"reason": "other", "details": "x" * 1001})
    assert response.status_code == 400
    page = controls_of(response)
    assert_descriptions_exist(page)
    assert_error_linked(page, "details")
