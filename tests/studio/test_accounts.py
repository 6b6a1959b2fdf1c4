"""Accounts: sign up, log in, log out, password reset by email."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.studio.conftest import text_of

PASSWORD = "a-long-demo-passphrase"


@pytest.mark.django_db
def test_sign_up_creates_a_member_logs_them_in_and_returns_them(client):
    page = client.get("/accounts/signup/?next=/rounds/")
    assert page.status_code == 200 and 'name="next" value="/rounds/"' in page.content.decode()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "ada",
            "email": "ada@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": "/rounds/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/rounds/"
    user = get_user_model().objects.get(username="ada")
    assert user.email == "ada@example.com" and not user.is_staff
    assert 'name="prompt"' in client.get("/").content.decode()  # signed in: the form is there


@pytest.mark.django_db
def test_sign_up_refuses_a_taken_name_and_mismatched_passwords(client, personas):
    response = client.post(
        "/accounts/signup/",
        {"username": "member", "email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 400
    html = text_of(response)
    assert "A user with that username already exists." in html
    assert "The two password fields didn’t match." in html
    assert get_user_model().objects.filter(username="member").count() == 1


@pytest.mark.django_db
def test_an_empty_sign_up_says_what_is_missing(client):
    response = client.post("/accounts/signup/", {})
    assert response.status_code == 400
    html = text_of(response)
    for name in ("username", "email", "password1", "password2"):
        assert f'id="id_{name}_error"' in html
    assert "This field is required." in html
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_sign_up_never_redirects_off_site(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "bob",
            "email": "b@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_log_in_and_out(client, personas):
    login = client.get("/accounts/login/")
    assert 'id="login-form"' in login.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "member", "password": "member-pass-1234", "next": "/rounds/"}
    )
    assert response.status_code == 302 and response["Location"] == "/rounds/"
    assert 'id="nav-logout"' in client.get("/").content.decode()
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert 'id="nav-login"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_wrong_password_says_so(client, personas):
    response = client.post("/accounts/login/", {"username": "member", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password." in text_of(response)


@pytest.mark.django_db
def test_password_reset_by_email(client, personas):
    personas.member.email = "member@example.com"
    personas.member.save()
    response = client.post("/accounts/password_reset/", {"email": "member@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["member@example.com"]
    assert message.subject == "Reset your livepeer-ai studio password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert 'id="password-set-form"' in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert client.login(username="member", password=PASSWORD)
    reused = client.get(link, follow=True)
    assert 'id="reset-link-invalid"' in reused.content.decode()


@pytest.mark.django_db
def test_password_reset_for_an_unknown_address_sends_nothing_and_tells_nothing(client):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []
