"""Sign-In with Ethereum: the site's message, the browser wallet's POST, the one-time link."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user, get_user_model
from django.urls import reverse
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct

from dashboard.models import Operator, SignInNonce
from dashboard.siwe import SiweMessage
from livepeer_ai.gateway.models import Orchestrator
from tests.conftest import OPERATOR_KEY, OTHER_OPERATOR_KEY

# anvil's account 4: a key no orchestrator uses.
STRANGER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
LOGIN = "/dashboard/login/"


def sign(text: str, key: str = OPERATOR_KEY) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), private_key=key).signature).hex()


def ask_message(client, address: str) -> str:
    response = client.get("/dashboard/login/message/", {"address": address})
    assert response.status_code == 200, response.content
    return response.json()["message"]


@pytest.mark.django_db
def test_the_site_writes_a_message_bound_to_itself_with_a_fresh_nonce(client, personas):
    response = client.get("/dashboard/login/message/", {"address": personas.operator_address.lower()})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    message = SiweMessage.parse(response.json()["message"])
    assert message.domain == "testserver"
    assert message.uri == "http://testserver/dashboard/login/"
    assert message.address == personas.operator_address
    assert message.chain_id == 31337
    assert response.json()["nonce"] == message.nonce
    nonce = SignInNonce.objects.get(nonce=message.nonce)
    assert nonce.address == personas.operator_address and nonce.used_at is None
    assert message.expiration_time == nonce.expires_at
    assert ask_message(client, personas.operator_address) != response.json()["message"]


@pytest.mark.django_db
def test_an_orchestrator_seen_by_the_gateway_may_sign_in_before_it_has_an_account(client):
    address = Account.from_key(STRANGER_KEY).address
    assert client.get("/dashboard/login/message/", {"address": address}).status_code == 403
    Orchestrator.objects.create(service_uri="http://127.0.0.1:9999", address=address)
    text = ask_message(client, address)
    response = client.post(LOGIN, {"message": text, "signature": sign(text, STRANGER_KEY)})
    assert response.status_code == 302
    assert Operator.objects.get(address=address).user == get_user(client)


SIGNUP = "/accounts/signup/"


def sign_up(client, username: str) -> int:
    fields = {"username": username, "email": "squatter@example.com"}
    fields |= {"password1": "squat-pass-98765", "password2": "squat-pass-98765"}
    status = client.post(SIGNUP, fields).status_code
    client.logout()
    return status


@pytest.mark.django_db
def test_a_visitor_who_signs_up_with_the_nodes_address_cannot_block_its_operators_first_sign_in(client):
    User = get_user_model()
    address = Account.from_key(STRANGER_KEY).address
    Orchestrator.objects.create(service_uri="http://127.0.0.1:9999", address=address)
    assert sign_up(client, address.lower()) == 302
    # The name operator accounts get is one no sign-up can register.
    assert sign_up(client, f"operator:{address}") == 400
    assert sign_up(client, f"operator:{address.lower()}") == 400

    text = ask_message(client, address)
    response = client.post(LOGIN, {"message": text, "signature": sign(text, STRANGER_KEY)})
    assert response.status_code == 302
    operator = Operator.objects.get(address=address)
    assert get_user(client) == operator.user
    assert operator.user.username == f"operator:{address}"
    assert User.objects.filter(username=address.lower()).exclude(pk=operator.user.pk).exists()


@pytest.mark.django_db
def test_an_account_already_holding_the_operators_name_is_a_clear_refusal_not_a_crash(client):
    address = Account.from_key(STRANGER_KEY).address
    Orchestrator.objects.create(service_uri="http://127.0.0.1:9999", address=address)
    # Only an admin could make this name (the sign-up form refuses the colon).
    get_user_model().objects.create_user(f"operator:{address}")
    text = ask_message(client, address)
    response = client.post(LOGIN, {"message": text, "signature": sign(text, STRANGER_KEY)})
    assert response.status_code == 409
    assert f"an account named operator:{address} already exists" in response.content.decode()
    assert not Operator.objects.filter(address=address).exists()
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "status", "reason"),
    [
        ("", 400, "not an Ethereum address"),
        ("0x1234", 400, "not an Ethereum address"),
        (Account.from_key(STRANGER_KEY).address, 403, "not the address of any orchestrator"),
    ],
)
def test_no_message_for_a_bad_or_unknown_address(client, personas, address, status, reason):
    response = client.get("/dashboard/login/message/", {"address": address})
    assert response.status_code == status
    assert reason in response.json()["detail"]
    assert not SignInNonce.objects.exists()


@pytest.mark.django_db
def test_signing_in_with_the_wallet_logs_the_operator_in_and_opens_their_node(client, personas):
    text = ask_message(client, personas.operator_address)
    response = client.post(LOGIN, {"message": text, "signature": sign(text)})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard-node", args=[personas.operator_address])
    assert get_user(client) == personas.operator
    assert SignInNonce.objects.get(nonce=SiweMessage.parse(text).nonce).used_at is not None
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_a_browser_form_that_sends_the_message_with_crlf_line_breaks_still_signs_in(client, personas):
    text = ask_message(client, personas.operator_address)
    response = client.post(LOGIN, {"message": text.replace("\n", "\r\n"), "signature": sign(text)})
    assert response.status_code == 302
    assert get_user(client) == personas.operator


@pytest.mark.django_db
def test_a_signed_message_signs_in_only_once(client, personas):
    text = ask_message(client, personas.operator_address)
    signature = sign(text)
    assert client.post(LOGIN, {"message": text, "signature": signature}).status_code == 302
    client.logout()
    replay = client.post(LOGIN, {"message": text, "signature": signature})
    assert replay.status_code == 400
    assert b"already used" in replay.content
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_refuses_a_message_signed_with_another_key(client, personas):
    text = ask_message(client, personas.operator_address)
    response = client.post(LOGIN, {"message": text, "signature": sign(text, OTHER_OPERATOR_KEY)})
    assert response.status_code == 400
    assert f"signed by {personas.other_operator_address}".encode() in response.content
    assert not get_user(client).is_authenticated
    # The refused attempt did not burn the operator's nonce.
    assert client.post(LOGIN, {"message": text, "signature": sign(text)}).status_code == 302


@pytest.mark.django_db
def test_refuses_a_message_whose_nonce_expired(client, personas):
    text = ask_message(client, personas.operator_address)
    SignInNonce.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    # A message that itself carries no expiry still finds its nonce expired.
    bare = replace(SiweMessage.parse(text), expiration_time=None).text()
    response = client.post(LOGIN, {"message": bare, "signature": sign(bare)})
    assert response.status_code == 400
    assert b"has expired or was already used" in response.content


@pytest.mark.django_db
def test_refuses_a_message_the_site_never_issued(client, personas):
    issued = SiweMessage.parse(ask_message(client, personas.operator_address))
    forged = replace(issued, nonce="madeUpNonce1234").text()
    response = client.post(LOGIN, {"message": forged, "signature": sign(forged)})
    assert response.status_code == 400
    assert b"not issued here" in response.content


@pytest.mark.django_db
def test_refuses_a_message_for_another_site(client, personas):
    issued = SiweMessage.parse(ask_message(client, personas.operator_address))
    for other in (replace(issued, domain="evil.example"), replace(issued, uri="http://evil.example/login")):
        text = other.text()
        response = client.post(LOGIN, {"message": text, "signature": sign(text)})
        assert response.status_code == 400
        assert b"evil.example" in response.content


@pytest.mark.django_db
def test_a_post_without_message_or_signature_is_a_clear_400(client, personas):
    response = client.post(LOGIN, {"message": "hello"})
    assert response.status_code == 400
    assert b"needs a signed message and its signature" in response.content


@pytest.mark.django_db
def test_the_link_signs_the_browser_in_once_when_its_button_is_pressed(client, personas):
    text = ask_message(client, personas.operator_address)
    fields = {"message": text, "signature": sign(text)}
    link = "/dashboard/login/link/?" + urlencode(fields)
    # Opening it, as a chat app's link preview does, shows whom it signs in and spends nothing.
    for _ in range(2):
        shown = client.get(link)
        assert shown.status_code == 200
        assert personas.operator_address in shown.content.decode()
        assert not get_user(client).is_authenticated
    response = client.post("/dashboard/login/link/", fields)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard-node", args=[personas.operator_address])
    assert get_user(client) == personas.operator
    client.logout()
    again = client.post("/dashboard/login/link/", fields)
    assert again.status_code == 400
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "says"),
    [({}, "link is incomplete"), ({"message": "hello", "signature": "0x00"}, "link is not valid")],
    ids=["empty", "not-siwe"],
)
def test_a_broken_link_says_what_is_wrong(client, query, says):
    response = client.get("/dashboard/login/link/?" + urlencode(query))
    assert response.status_code == 400
    assert says in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("expiry", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_link_whose_expiry_leaves_the_calendar_is_a_clear_400(client, personas, expiry):
    text = ask_message(client, personas.operator_address)
    text = "\n".join(
        f"Expiration Time: {expiry}" if line.startswith("Expiration Time: ") else line for line in text.split("\n")
    )
    assert expiry in text
    fields = {"message": text, "signature": sign(text)}
    shown = client.get("/dashboard/login/link/?" + urlencode(fields))
    assert shown.status_code == 400 and "out of range" in shown.content.decode()
    posted = client.post("/dashboard/login/link/", fields)
    assert posted.status_code == 400 and "out of range" in posted.content.decode()
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_goes_back_to_the_page_asked_for_but_never_off_site(client, personas):
    wanted = reverse("dashboard-tickets", args=[personas.operator_address])
    text = ask_message(client, personas.operator_address)
    response = client.post(LOGIN, {"message": text, "signature": sign(text), "next": wanted})
    assert response["Location"] == wanted
    text = ask_message(client, personas.operator_address)
    response = client.post(LOGIN, {"message": text, "signature": sign(text), "next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard-node", args=[personas.operator_address])


@pytest.mark.django_db
def test_too_many_attempts_from_one_address_are_refused_with_429(client, personas):
    statuses = [
        client.get("/dashboard/login/message/", {"address": personas.operator_address}).status_code for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    assert client.post(LOGIN, {"message": "x", "signature": "y"}).status_code == 400
    assert SignInNonce.objects.count() == 30


@pytest.mark.django_db
def test_the_sign_in_page_offers_the_wallet_and_the_command(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    for hook in ('id="siwe-connect"', 'id="siwe-form"', 'id="siwe-status"', "dashboard/siwe.js", "operator_login_link"):
        assert hook in html
    script = client.get("/static/dashboard/siwe.js")
    body = b"".join(script.streaming_content) if script.streaming else script.content
    assert b'method: "eth_requestAccounts"' in body and b'method: "personal_sign"' in body


@pytest.mark.django_db
def test_signing_out_ends_the_session(client, personas):
    client.force_login(personas.operator)
    assert client.get("/dashboard/logout/").status_code == 405
    response = client.post("/dashboard/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert not get_user(client).is_authenticated
