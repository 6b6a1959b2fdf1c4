"""What a node says in /info is checked before the dashboard keeps or shows it: no node can break the
public pages or the live pushes for everyone else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from dashboard import live
from dashboard.models import NodeSnapshot
from dashboard.routing import websocket_urlpatterns
from dashboard.snapshots import Fetched, store
from livepeer_ai.gateway.models import Orchestrator

IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
GOOD_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BAD_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
T2I = {
    "pipeline": "text-to-image",
    "model_id": "livepeer-ai/tiny-sdxl-turbo",
    "warm": True,
    "capacity": 2,
    "in_use": 1,
    "price_per_unit": 4768371,
    "pixels_per_unit": 1,
    "runners": [{"id": "t2i-0", "state": "ready", "restarts": 0, "in_use": True, "last_error": ""}],
    "stats": {"served": 3, "insufficient_capacity": 0},
}


def info(address: str = BAD_ADDRESS, **capability: Any) -> dict[str, Any]:
    return {"address": address, "version": "0.1.0", "capabilities": [{**T2I, **capability}]}


BROKEN = {
    "capacity-null": (info(capacity=None), "capabilities[0].capacity must be a non-negative integer, got None"),
    "capacity-lots": (info(capacity="lots"), "capabilities[0].capacity must be a non-negative integer, got 'lots'"),
    "capacity-negative": (info(in_use=-3), "capabilities[0].in_use must be a non-negative integer, got -3"),
    "capacity-bool": (info(capacity=True), "capabilities[0].capacity must be a non-negative integer, got True"),
    "capability-a-string": (
        {"address": BAD_ADDRESS, "capabilities": ["x"]},
        "capabilities[0] must be an object, got 'x'",
    ),
    "capabilities-an-object": (
        {"address": BAD_ADDRESS, "capabilities": {"pipeline": "text-to-image"}},
        "capabilities must be a list, got {'pipeline': 'text-to-image'}",
    ),
    "no-model": (info(model_id=None), "capabilities[0].model_id must be a string"),
    "runners-a-string": (info(runners="many"), "capabilities[0].runners must be a list, got 'many'"),
    "runner-restarts": (
        info(runners=[{"id": "r", "state": "ready", "restarts": "often"}]),
        "capabilities[0].runners[0].restarts must be a non-negative integer, got 'often'",
    ),
    "stats-a-list": (info(stats=[1, 2]), "capabilities[0].stats must be an object, got [1, 2]"),
    "huge-model-id": (info(model_id="m" * 5000), "capabilities[0].model_id is longer than 200 characters"),
    "price-float": (info(price_per_unit=0.5), "capabilities[0].price_per_unit must be a non-negative integer, got 0.5"),
    "not-an-object": (["capabilities"], "/info must be an object, got ['capabilities']"),
}


@pytest.fixture
def good_node(db) -> Orchestrator:
    orchestrator = Orchestrator.objects.create(service_uri="http://good.test")
    store(orchestrator, Fetched(info=info(GOOD_ADDRESS)), stake=None)
    return orchestrator


@pytest.mark.django_db
@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_node_with_nonsense_in_its_info_cannot_break_the_network_page(client, good_node, broken):
    raw, problem = BROKEN[broken]
    bad = Orchestrator.objects.create(service_uri="http://bad.test")
    snapshot = store(bad, Fetched(info=raw), stake=None)

    assert problem in snapshot.error
    assert snapshot.reachable
    response = client.get("/network/")
    assert response.status_code == 200
    html = response.content.decode()
    assert problem in html.replace("&#x27;", "'")
    good_row = html.split('data-service-uri="http://good.test"')[1].split("</tr>")[0]
    assert "1 / 2" in good_row
    assert "text-to-image · livepeer-ai/tiny-sdxl-turbo" in good_row
    assert live.network_fragments()


@pytest.mark.django_db
def test_what_the_dashboard_keeps_is_only_the_checked_info(good_node):
    bad = Orchestrator.objects.create(service_uri="http://bad.test")
    raw = info(capacity="lots", stats="x") | {"extra": {"anything": 1}, "version": "v" * 500}
    snapshot = store(bad, Fetched(info=raw), stake=None)
    (capability,) = snapshot.info["capabilities"]
    assert "capacity" not in capability and "stats" not in capability
    assert capability["in_use"] == 1 and capability["model_id"] == T2I["model_id"]
    assert "extra" not in snapshot.info and "version" not in snapshot.info
    assert "version is longer than 200 characters" in snapshot.error
    bad.refresh_from_db()
    assert bad.info == snapshot.info


@pytest.mark.django_db
def test_a_well_formed_info_is_kept_as_it_came_without_an_error(good_node):
    snapshot = NodeSnapshot.objects.get(orchestrator=good_node)
    assert snapshot.error == ""
    assert snapshot.info == info(GOOD_ADDRESS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reported", "kept"),
    [
        (GOOD_ADDRESS.lower(), GOOD_ADDRESS),
        ("0x12 <script>", ""),
        ("node_x y", ""),
        (GOOD_ADDRESS + "00", ""),
        (12345, ""),
        (None, ""),
    ],
)
def test_only_an_ethereum_address_is_kept_as_the_nodes_address(reported, kept):
    orchestrator = Orchestrator.objects.create(service_uri="http://node.test")
    snapshot = store(orchestrator, Fetched(info={**info(), "address": reported}), stake=None)
    orchestrator.refresh_from_db()
    assert orchestrator.address == kept
    assert snapshot.info["address"] == kept
    assert ("is not an Ethereum address" in snapshot.error) == (kept == "")


@pytest.mark.django_db
def test_snapshots_stored_before_the_check_still_render(client, personas, good_node):
    """Rows written by an older dashboard may hold anything: the pages read them defensively."""
    bad = Orchestrator.objects.create(service_uri="http://old.test", address=personas.operator_address)
    NodeSnapshot.objects.create(
        orchestrator=bad,
        reachable=True,
        info={"capabilities": [{**T2I, "capacity": "lots", "runners": "x"}, "x", {"capacity": None}]},
        runners=["x", {"id": 5, "log_tail": None}],
    )
    assert client.get("/network/").status_code == 200
    assert live.network_fragments() and live.capacity_fragment(personas.operator_address)
    client.force_login(personas.operator)
    assert client.get(f"/dashboard/nodes/{personas.operator_address}/").status_code == 200
    NodeSnapshot.objects.filter(orchestrator=bad).update(info=["not", "an", "object"], runners={"x": 1})
    assert client.get("/network/").status_code == 200
    assert client.get(f"/dashboard/nodes/{personas.operator_address}/").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_the_network_socket_opens_whatever_a_node_reported(settings):
    from channels.db import database_sync_to_async

    settings.CHANNEL_LAYERS = IN_MEMORY_LAYER

    def broken_node() -> None:
        orchestrator = Orchestrator.objects.create(service_uri="http://bad.test")
        store(orchestrator, Fetched(info=info(capacity="lots")), stake=None)
        NodeSnapshot.objects.create(
            orchestrator=Orchestrator.objects.create(service_uri="http://old.test"),
            info={"capabilities": [{"capacity": "lots"}]},
        )

    await database_sync_to_async(broken_node)()
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/network/")
    communicator.scope["user"] = None
    connected, _ = await communicator.connect()
    assert connected
    assert 'data-service-uri="http://bad.test"' in await communicator.receive_from()
    await communicator.disconnect()


@pytest.mark.django_db
def test_one_bad_group_name_does_not_stop_the_other_pushes(settings, personas):
    """An address stored before the check could make an invalid group name: that send alone is skipped."""
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYER
    layer = get_channel_layer()

    async def within_seconds(channel: str) -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), 5)

    receive = async_to_sync(within_seconds)
    listeners = {}
    for group in (live.node_group(personas.operator_address), live.NETWORK_GROUP):
        listeners[group] = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(group, listeners[group])

    live.publish({"0x12 <script>", "node with spaces", "x" * 200, personas.operator_address})

    assert 'id="capacity"' in receive(listeners[live.node_group(personas.operator_address)])["html"]
    assert 'id="orchestrators"' in receive(listeners[live.NETWORK_GROUP])["html"]


def node_app(reported: dict[str, Any]) -> Any:
    """A node that says whatever the test wants in /info (and has no /runners to show)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/info")
    async def node_info() -> dict[str, Any]:
        return reported

    return app


@pytest.mark.django_db
def test_on_chain_a_node_cannot_pose_as_another_orchestrator(client, personas, settings):
    from dashboard.snapshots import refresh_all
    from livepeer_ai.payments.discovery import DiscoveredOrchestrator
    from tests.conftest import serve

    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:9"  # never called: discovery is given below
    impostor = personas.other_operator_address
    with serve(node_app(info(personas.operator_address))) as node_url:
        (snapshot,) = refresh_all(discover=lambda: [DiscoveredOrchestrator(impostor, node_url, 10**18)])

    assert snapshot.orchestrator.address == impostor
    assert Orchestrator.objects.get(service_uri=node_url).address == impostor
    says = f"reports address {personas.operator_address} but is registered as {impostor}"
    assert says in snapshot.error
    assert says in client.get("/network/").content.decode()
    # The operator it posed as does not get its capacity on their page.
    client.force_login(personas.operator)
    assert node_url not in client.get(f"/dashboard/nodes/{personas.operator_address}/").content.decode()


@pytest.mark.django_db
def test_on_chain_a_node_reporting_its_registered_address_has_no_error(personas):
    orchestrator = Orchestrator.objects.create(service_uri="http://node.test")
    snapshot = store(orchestrator, Fetched(info=info(personas.operator_address.lower())), 0, personas.operator_address)
    assert (snapshot.error, snapshot.orchestrator.address) == ("", personas.operator_address)


@pytest.mark.django_db
def test_on_chain_the_registered_address_stands_when_the_node_cannot_be_reached(personas):
    orchestrator = Orchestrator.objects.create(service_uri="http://node.test")
    store(orchestrator, Fetched(error="/info failed: refused"), 0, personas.operator_address)
    orchestrator.refresh_from_db()
    assert orchestrator.address == personas.operator_address


@pytest.mark.django_db
def test_off_chain_the_gateways_own_list_is_trusted_for_the_address(personas, settings):
    """Several services may share one operator key off chain (bench.seed_dashboard does): /info's address is kept."""
    orchestrator = Orchestrator.objects.create(service_uri="http://node.test", address=personas.other_operator_address)
    snapshot = store(orchestrator, Fetched(info=info(personas.operator_address)), None)
    assert (snapshot.error, snapshot.orchestrator.address) == ("", personas.operator_address)


@pytest.mark.django_db
def test_the_admins_node_list_skips_addresses_stored_before_the_check(client, personas):
    Orchestrator.objects.create(service_uri="http://old.test", address="0x12/<b>")
    client.force_login(personas.admin)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert personas.operator_address in html and "0x12/" not in html
