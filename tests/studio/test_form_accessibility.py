"""Forms tie each input to its help text and its error: every id an input's aria-describedby names is on the page,
and an input with an error names that error and says it is invalid."""

from __future__ import annotations

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.forms_a11y import assert_descriptions_exist, assert_error_linked, controls_of
from tests.studio.factories import make_entry, make_round


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


@pytest.mark.django_db
def test_round_form_and_my_gifs_filters_point_at_their_help_and_errors(client, personas):
    client.force_login(personas.admin)
    assert_descriptions_exist(controls_of(client.get("/rounds/new/")))
    response = client.post("/rounds/new/", {"slug": "new", "prompt_opens_at": "soon"})
    assert response.status_code == 400
    page = controls_of(response)
    assert_descriptions_exist(page)
    for name in ("title", "slug", "prompt_opens_at"):
        assert_error_linked(page, name)
    page = controls_of(client.get("/my-gifs/?status=bogus"))
    assert_descriptions_exist(page)
    assert_error_linked(page, "status")
