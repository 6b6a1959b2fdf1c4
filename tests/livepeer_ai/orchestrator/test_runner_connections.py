"""The node keeps one pooled client to its runners for as long as its app runs: jobs, version
asks and health checks reuse its connections instead of opening (and TLS-loading) a client each."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from fastapi import FastAPI, Request

from livepeer_ai.orchestrator.config import Capability, ExternalRunner, NodeConfig
from livepeer_ai.orchestrator.node import Node, create_node_app
from livepeer_ai.orchestrator.payment import OffchainPayments
from livepeer_ai.orchestrator.supervisor import Supervisor
from livepeer_ai.payments.receipts import verify_receipt
from tests.conftest import HTTP, serve, wait_for

T2I = "livepeer-ai/tiny-sdxl-turbo"
PNG = b"\x89PNG\r\n\x1a\n not a real image, but bytes to sign for"


@pytest.fixture
def runner() -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """An external runner (the runner API's routes a node calls) noting each request's path and client port."""
    app = FastAPI()
    seen: list[tuple[str, int]] = []

    def note(request: Request) -> None:
        assert request.client is not None
        seen.append((request.url.path, request.client.port))

    @app.get("/health")
    async def health(request: Request) -> dict[str, str]:
        note(request)
        return {"status": "IDLE"}

    @app.get("/version")
    async def version(request: Request) -> dict[str, str]:
        note(request)
        return {"version": "fake-runner-1"}

    @app.post("/text-to-image")
    async def text_to_image(request: Request) -> dict[str, Any]:
        note(request)
        url = "data:image/png;base64," + base64.b64encode(PNG).decode()
        return {"images": [{"url": url, "seed": 1, "nsfw": False}]}

    with serve(app) as url:
        yield url, seen


@pytest.fixture
def node(runner: tuple[str, list[tuple[str, int]]], tmp_path: Any) -> Node:
    config = NodeConfig(
        service_uri="http://node.test",
        host="127.0.0.1",
        port=1,
        private_key_env="UNUSED",
        capabilities=(
            Capability(
                "text-to-image",
                T2I,
                warm=True,
                price_per_unit=1,
                pixels_per_unit=1,
                external=(ExternalRunner(runner[0]),),
            ),
        ),
    )
    return Node(config, Account.create(), Supervisor(config, {}, tmp_path / "logs"), OffchainPayments(), chain_id=31337)


def test_jobs_reuse_one_connection_to_their_runner(node, runner):
    _, seen = runner
    with serve(create_node_app(node)) as node_url:
        wait_for(lambda: node.supervisor.capacity(("text-to-image", T2I))[0] == 1, 20, "runner ready")
        for _ in range(3):
            response = HTTP.post(f"{node_url}/text-to-image", json={"prompt": "p", "model_id": T2I}, timeout=10)
            assert response.status_code == 200, response.text
            (receipt,) = response.json()["receipts"]
            assert verify_receipt(receipt, PNG).receipt.runner_version == "fake-runner-1"
    jobs = [port for path, port in seen if path == "/text-to-image"]
    assert len(jobs) == 3
    assert len(set(jobs)) == 1, f"a new connection per job: client ports {jobs}"


def test_the_runner_client_closes_with_the_app(node):
    with serve(create_node_app(node)):
        assert not node.http.is_closed
        client = node.http
    assert client.is_closed
    with pytest.raises(RuntimeError, match="only while its app runs"):
        node.http  # noqa: B018 - the property is what refuses
