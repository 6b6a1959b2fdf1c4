"""Who sees what: every private page and action, for each persona (anonymous is the plain client)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from dashboard.routing import websocket_urlpatterns
from livepeer_ai.gateway.models import Orchestrator

PRIVATE_PAGES = [
    "/dashboard/nodes/{address}/",
    "/dashboard/nodes/{address}/?period=24h",
    "/dashboard/nodes/{address}/tickets/",
    "/dashboard/nodes/{address}/tickets/?status=redeemed&page=2",
    "/dashboard/nodes/{address}/tickets.csv",
]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def node(personas):
    """The operator's node, as the gateway knows it."""
    Orchestrator.objects.create(service_uri="http://127.0.0.1:8935", address=personas.operator_address)
    return personas.operator_address


def fetch(client, url: str, **headers: str):
    response = client.get(url, **headers)
    if getattr(response, "streaming", False):
        b"".join(response)
    return response


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
@pytest.mark.parametrize("page", PRIVATE_PAGES)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_node_page_opens_to_its_operator_and_admins_only(client, personas, node, page, htmx):
    url = page.format(address=node)
    headers = HTMX if htmx else {}
    for user, expected in [
        (personas.operator, 200),
        (personas.admin, 200),
        (personas.other_operator, 404),
        (personas.member, 404),
    ]:
        client.force_login(user)
        assert fetch(client, url, **headers).status_code == expected, (user, url)
    client.logout()
    anonymous = fetch(client, url, **headers)
    if htmx:
        assert anonymous.status_code == 200 and anonymous["HX-Redirect"].startswith("/dashboard/login/?next=")
    else:
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/dashboard/login/?next=")


@pytest.mark.django_db
def test_the_address_may_be_written_in_any_case(client, personas, node):
    client.force_login(personas.operator)
    assert client.get(f"/dashboard/nodes/{node.lower()}/").status_code == 200
    assert client.get("/dashboard/nodes/not-an-address/").status_code == 404


@pytest.mark.django_db
def test_admins_see_no_page_for_an_address_nobody_runs(client, personas):
    client.force_login(personas.admin)
    assert client.get("/dashboard/nodes/0x0000000000000000000000000000000000000001/").status_code == 404


@pytest.mark.django_db
def test_the_dashboard_index_sends_each_persona_to_the_right_place(client, personas, node):
    assert client.get("/dashboard/")["Location"] == "/dashboard/login/?next=/dashboard/"
    client.force_login(personas.operator)
    assert client.get("/dashboard/")["Location"] == f"/dashboard/nodes/{node}/"
    client.force_login(personas.member)
    member = client.get("/dashboard/")
    assert (
        member.status_code == 200 and b'id="not-an-operator"' in member.content and node.encode() not in member.content
    )
    client.force_login(personas.admin)
    admin = client.get("/dashboard/")
    assert admin.status_code == 200
    assert f'href="/dashboard/nodes/{node}/"'.encode() in admin.content
    assert personas.other_operator_address.encode() in admin.content


@pytest.mark.django_db
def test_sign_in_pages_and_the_network_overview_are_public(client, personas):
    for user in (None, personas.operator, personas.other_operator, personas.member, personas.admin):
        if user is None:
            client.logout()
        else:
            client.force_login(user)
        assert client.get("/dashboard/login/").status_code == 200
        assert client.get("/network/").status_code == 200
        assert client.post("/dashboard/logout/").status_code == 302


async def connect(address: str, user) -> tuple[bool, int | None]:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/dashboard/nodes/{address}/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    if connected:
        assert 'id="capacity"' in await communicator.receive_from()
    await communicator.disconnect()
    return connected, code


@pytest.mark.django_db(transaction=True)
async def test_the_live_capacity_socket_opens_to_the_operator_and_admins_only(personas, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    address = personas.operator_address
    await database_sync_to_async(Orchestrator.objects.create)(service_uri="http://127.0.0.1:8935", address=address)
    assert (await connect(address, personas.operator))[0]
    assert (await connect(address, personas.admin))[0]
    for user in (personas.other_operator, personas.member, AnonymousUser()):
        assert await connect(address, user) == (False, 4403)
