"""Webhooks for API callers: signed (Standard Webhooks), retried with back-off, bounded, refused for closed
addresses, and sent off the job's path.

The receiver is a real HTTP server on a loopback port (a thread); the sender is the gateway's own
(gateway/webhooks.py), over real HTTP. The end-to-end tests run a real engine whose one stage is
served by a stand-in runner (the fallback provider seam), so no model loads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from PIL import Image

from livepeer_ai.gateway import webhooks
from livepeer_ai.gateway.models import ApiKey, Job, JobStatus, WebhookDelivery
from tests.conftest import engine_running, free_port, serve, wait_for

SMALL = {"prompt": "hook", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 3}


# -- a real receiver -------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Statuses to answer, in turn, per path (then 200); "/dead…" answers nothing until released.
    answers: dict[str, list[int]] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    hanging: int = 0

    def on(self, path: str) -> str:
        return f"{self.url}{path}"


@contextmanager
def receiving() -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path.startswith("/dead"):
                receiver.hanging += 1
                receiver.release.wait(60)
            answers = receiver.answers.get(self.path) or []
            self.send_response(answers.pop(0) if answers else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


@pytest.fixture
def hook_settings(settings: Any) -> Any:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_RETRY_BASE_MS = 5000
    settings.WEBHOOK_TIMEOUT_S = 5
    return settings


def verifies(received: Received, secret: str) -> bool:
    """The Standard Webhooks check, written from the spec here rather than taken from the sender."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.{received.body}"
    expected = base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()
    offered = [
        part.removeprefix("v1,") for part in received.headers["webhook-signature"].split() if part.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, signature) for signature in offered)


def deliver_once(concurrency: int | None = None) -> int:
    """One round of the engine's sender: due deliveries sent, and their outcomes recorded."""

    async def round_() -> int:
        async with webhooks.webhook_client() as client:
            tasks = await webhooks.WebhookSender(client, concurrency).deliver_due()
            for task in tasks:
                await task
            return len(tasks)

    return int(async_to_sync(round_)())


def subscribed_job(url: str, events: tuple[str, ...] = webhooks.EVENTS) -> tuple[Job, str]:
    key = ApiKey.issue("hooked")[0]
    subscription = webhooks.Subscription(url, events, "http://testserver")
    job = Job.objects.create(
        prompt="x", api_key=key, stages=["text-to-image"], parameters={"api": True, "webhook": subscription.stored()}
    )
    return job, key.webhook_secret


def time_passes(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())


# -- delivery, signature, retries ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_is_delivered_once_signed_with_the_keys_secret(receiver, hook_settings):
    job, secret = subscribed_job(receiver.on("/hook"))
    Job.objects.filter(id=job.id).update(status=JobStatus.CANCELED)
    webhooks.announce([job.id], "completed")

    assert deliver_once() == 1

    [received] = receiver.requests
    assert verifies(received, secret)
    assert not verifies(received, ApiKey.issue("another")[0].webhook_secret)
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    assert received.headers["content-type"] == "application/json"
    assert received.event["type"] == "job.completed"
    assert received.event["data"]["request_id"] == str(job.id) and received.event["data"]["status"] == "canceled"
    delivery = WebhookDelivery.objects.get()
    assert received.headers["webhook-id"] == f"msg_{delivery.id.hex}"
    assert (delivery.attempts, delivery.status_code, delivery.next_attempt_at) == (1, 200, None)
    assert delivery.delivered_at is not None
    assert deliver_once() == 0  # delivered: never again


@pytest.mark.django_db
def test_a_500_is_tried_again_after_the_back_off_with_the_same_id_then_delivered(receiver, hook_settings):
    job, secret = subscribed_job(receiver.on("/flaky"), events=("completed",))
    receiver.answers["/flaky"] = [500]
    webhooks.announce([job.id], "completed")
    webhooks.announce([job.id], "queued")  # not asked for: nothing written

    assert deliver_once() == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.delivered_at, delivery.status_code) == (1, None, 500)
    wait_s = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 3 < wait_s <= 5  # WEBHOOK_RETRY_BASE_MS after the first failure
    assert deliver_once() == 0  # not due yet

    time_passes(delivery)
    assert deliver_once() == 1

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    assert verifies(second, secret)
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.status_code) == (2, 200) and delivery.delivered_at is not None


@pytest.mark.django_db
def test_it_gives_up_after_the_last_try_waiting_four_times_longer_each_time(receiver, hook_settings):
    job, _ = subscribed_job(receiver.on("/down"), events=("completed",))
    receiver.answers["/down"] = [500, 503, 502, 500]
    webhooks.announce([job.id], "completed")
    delivery = WebhookDelivery.objects.get()
    waits = []
    for _ in range(hook_settings.WEBHOOK_MAX_ATTEMPTS):
        assert deliver_once() == 1
        delivery.refresh_from_db()
        if delivery.next_attempt_at is not None:
            waits.append(round((delivery.next_attempt_at - timezone.now()).total_seconds()))
            time_passes(delivery)

    assert waits == [5, 20]
    assert (delivery.attempts, delivery.next_attempt_at, delivery.delivered_at) == (3, None, None)
    assert "gave up after 3 tries" in delivery.last_error and "502" in delivery.last_error
    assert deliver_once() == 0
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_no_answer_at_all_is_a_failed_try(hook_settings):
    job, _ = subscribed_job(f"http://127.0.0.1:{free_port()}/nobody", events=("completed",))
    webhooks.announce([job.id], "completed")
    assert deliver_once() == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.status_code, delivery.delivered_at) == (1, None, None)
    assert "ConnectError" in delivery.last_error and delivery.next_attempt_at is not None


@pytest.mark.django_db
def test_two_senders_never_send_one_event_twice(receiver, hook_settings):
    job, _ = subscribed_job(receiver.on("/hook"), events=("completed",))
    webhooks.announce([job.id], "completed")
    assert len(webhooks.claim_due(10)) == 1
    assert webhooks.claim_due(10) == []  # claimed by the first until its lease ends
    assert deliver_once() == 0 and receiver.requests == []


# -- closed addresses ---------------------------------------------------------------------------------


@pytest.fixture
def api_ready(approved_models: Any, settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.WEBHOOK_ALLOW_PRIVATE = False
    return settings


def submit(client: Any, key: str, **extra: Any) -> Any:
    return client.post(
        "/api/v1/text-to-image",
        data=json.dumps({**SMALL, **extra}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_PREFER="respond-async",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:8000/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.1.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://100.64.0.1/hook", "private"),
        ("http://[::1]/hook", "loopback"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "private"),
        ("ftp://example.com/hook", "http or https"),
        ("hook", "http or https"),
        ("", "http or https"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
        ("http://exa mple.com/", "spaces"),
        # Names the resolver cannot even encode (an empty or 64-character label) fail as UnicodeError.
        ("http://a..example.com/hook", "does not resolve"),
        ("http://" + "a" * 64 + ".example.com/hook", "does not resolve"),
        # Resolvable (IDNA 2003) but not sendable (IDNA 2008): every try would fail.
        ("http://\u2603.example.com/hook", "not a URL"),
    ],
)
def test_a_webhook_to_a_closed_or_bad_address_is_refused_with_400_and_no_job(client, api_ready, url, said):
    key = ApiKey.issue("k")[1]
    response = submit(client, key, webhook=url)
    assert response.status_code == 400, response.content
    assert said in response.json()["detail"]["msg"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_unknown_events_are_refused_and_a_public_address_is_taken(client, api_ready):
    key = ApiKey.issue("k")[1]
    refused = submit(client, key, webhook="http://93.184.216.34/hook", webhook_events_filter=["logs"])
    assert refused.status_code == 400 and "logs" in refused.json()["detail"]["msg"]
    assert submit(client, key, webhook_events_filter=["queued"]).status_code == 400  # events with no URL

    taken = submit(client, key, webhook="http://93.184.216.34/hook", webhook_events_filter=["queued", "completed"])

    assert taken.status_code == 202, taken.content
    job = Job.objects.get()
    assert job.parameters["webhook"]["events"] == ["queued", "completed"]
    assert "webhook" not in job.parameters["request"]  # never sent on to a runner
    queued = WebhookDelivery.objects.get()  # written with the job, in its transaction
    assert (queued.event, queued.url) == ("queued", "http://93.184.216.34/hook")
    assert json.loads(queued.body)["data"]["status"] == "queued"


def test_a_name_the_resolver_cannot_encode_is_refused_before_a_try_too():
    # Not an exception that escapes the sender, leaving the delivery to be claimed again forever.
    with pytest.raises(webhooks.WebhookRefused, match="does not resolve"):
        async_to_sync(webhooks.resolve_async)("a..example.com", 80)


@pytest.mark.django_db
def test_the_address_is_checked_again_before_each_try(receiver, hook_settings):
    job, _ = subscribed_job(receiver.on("/hook"), events=("completed",))
    webhooks.announce([job.id], "completed")
    hook_settings.WEBHOOK_ALLOW_PRIVATE = False  # the name now points at a closed address
    assert deliver_once() == 1
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.next_attempt_at is None and "loopback" in delivery.last_error


@pytest.mark.django_db
def test_the_post_goes_to_the_address_that_was_checked_not_to_a_second_lookup(receiver, hook_settings, monkeypatch):
    # A name whose resolver answers a public address to the check and a closed one to the next lookup
    # (DNS rebinding): the sender must connect where the check said. Here the checked answer is the
    # receiver's (taken as public), and any other lookup of the name fails, so only a pinned send arrives.
    hook_settings.WEBHOOK_ALLOW_PRIVATE = False
    port = receiver.url.rsplit(":", 1)[1]
    checked = []

    async def resolve_once(host: str, port: int) -> list[Any]:
        checked.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(webhooks, "resolve_async", resolve_once)
    monkeypatch.setattr(webhooks, "is_public", lambda address: True)
    job, secret = subscribed_job(f"http://rebound.invalid:{port}/hook", events=("completed",))
    webhooks.announce([job.id], "completed")

    assert deliver_once() == 1

    assert checked == ["rebound.invalid"]
    [received] = receiver.requests
    assert received.headers["host"] == f"rebound.invalid:{port}"  # the receiver sees the name it was given
    assert verifies(received, secret)
    assert WebhookDelivery.objects.get().status_code == 200


@pytest.mark.django_db
def test_a_url_the_sender_cannot_send_to_is_given_up_not_claimed_again_forever(hook_settings):
    job, _ = subscribed_job("http://\u2603.example.com/hook", events=("completed",))
    webhooks.announce([job.id], "completed")
    assert deliver_once() == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.next_attempt_at) == (1, None)
    assert "not a URL" in delivery.last_error


def test_an_https_webhook_keeps_its_name_for_tls_when_pinned():
    url, headers, extensions = webhooks.pin("https://Hooks.Example.com/in?x=1", ipaddress.ip_address("2606:4700::1"))
    assert str(url) == "https://[2606:4700::1]/in?x=1"
    assert headers == {"host": "hooks.example.com"}
    assert extensions == {"sni_hostname": "hooks.example.com"}


# -- through a job's life, off its path --------------------------------------------------------------------


def png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 90)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def stand_in_runner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The runner API's text-to-image, as SSE: two progress steps, then a result (docs/protocol.md §1.3)."""
    if scope["type"] == "lifespan":
        await receive()  # startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    events = [("progress", {"step": 1, "total": 2}), ("progress", {"step": 2, "total": 2})]
    events.append(("result", {"images": [{"url": png_data_url(), "seed": 3, "nsfw": False}]}))
    for kind, data in events:
        chunk = f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def stand_in_network(approved_models: Any, settings: Any, tmp_path: Any) -> Iterator[Any]:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ORCHESTRATOR_URLS = []
    settings.ORCHESTRATOR_INFO_TTL_S = 0
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_PROGRESS_MS = 0
    with serve(stand_in_runner) as url:
        settings.FALLBACK_PROVIDER_URL = url
        with engine_running("webhook-engine"):
            yield settings


def finished(job_id: str) -> bool:
    return Job.objects.get(id=job_id).status == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_job_tells_its_webhook_queued_started_progress_and_completed_in_order(client, receiver, stand_in_network):
    key, secret = ApiKey.issue("hooked")
    response = submit(client, secret, webhook=receiver.on("/hook"))
    assert response.status_code == 202, response.content
    job_id = response.json()["request_id"]
    wait_for(lambda: finished(job_id), 30, "the job to finish")
    wait_for(lambda: any(r.event["type"] == "job.completed" for r in receiver.requests), 15, "the completed event")

    types = [r.event["type"] for r in sorted(receiver.requests, key=lambda r: r.event["timestamp"])]
    assert types[:2] == ["job.queued", "job.started"] and types[-1] == "job.completed"
    assert "job.progress" in types
    assert all(verifies(r, key.webhook_secret) for r in receiver.requests)
    completed = next(r.event["data"] for r in receiver.requests if r.event["type"] == "job.completed")
    assert completed["status"] == "succeeded"
    assert completed["result"]["images"][0]["url"].startswith("http://testserver/media/jobs/")


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_never_answers_does_not_hold_up_the_job(client, receiver, stand_in_network):
    stand_in_network.WEBHOOK_TIMEOUT_S = 60
    secret = ApiKey.issue("hooked")[1]
    response = submit(client, secret, webhook=receiver.on("/dead"))
    job_id = response.json()["request_id"]
    wait_for(lambda: receiver.hanging >= 1, 15, "the receiver to be holding a webhook")

    wait_for(lambda: finished(job_id), 30, "the job to finish while its webhooks hang")

    assert receiver.hanging >= 1 and not receiver.release.is_set()
    assert not WebhookDelivery.objects.filter(job_id=job_id, delivered_at__isnull=False).exists()
    assert WebhookDelivery.objects.filter(job_id=job_id, event="completed").exists()  # written, waiting its turn
    receiver.release.set()


@pytest.mark.django_db
def test_an_admin_sees_what_was_sent_and_what_came_back(client, personas, receiver, hook_settings):
    job, _ = subscribed_job(receiver.on("/hook"), events=("completed",))
    webhooks.announce([job.id], "completed")
    deliver_once()
    client.force_login(personas.admin)
    listing = client.get("/admin/gateway/webhookdelivery/")
    assert listing.status_code == 200 and receiver.on("/hook") in listing.content.decode()
