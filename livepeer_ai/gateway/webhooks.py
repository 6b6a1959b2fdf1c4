"""Webhooks for API callers, as Replicate offers them, signed as Standard Webhooks.

A request may name `webhook` (an http or https URL) and `webhook_events_filter` (any of
queued, started, progress, completed; all four when not given). Each event is written as a
`WebhookDelivery` row in the same transaction as the change it reports, and every engine
sends the due rows from its own event loop (`deliver_forever`), never from a stage's path: a
slow or dead receiver holds one of WEBHOOK_CONCURRENCY sends for WEBHOOK_TIMEOUT_S at most,
and no job at all.

Each POST carries `webhook-id` (the same on every try of one event), `webhook-timestamp`
(Unix seconds of this try) and `webhook-signature`: "v1," and the base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}", keyed with the bytes of the key's `whsec_` secret. Any answer
but a 2xx (a redirect too: it is not followed), or none within the timeout, is tried again,
WEBHOOK_MAX_ATTEMPTS times in all, waiting four times longer after each failure.

A URL whose host is or resolves to a private, loopback, link-local or other non-public
address is refused at submission (400), and checked again before each try (a name may
move), which then connects to the address checked (`pin`), unless WEBHOOK_ALLOW_PRIVATE.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolveTimeout
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from livepeer_ai.gateway.job_states import job_state
from livepeer_ai.gateway.media_links import signed_media_url
from livepeer_ai.gateway.models import Job, WebhookDelivery

logger = logging.getLogger(__name__)

EVENTS = ("queued", "started", "progress", "completed")
URL_FIELD = "webhook"
EVENTS_FIELD = "webhook_events_filter"
MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_S = 3.0
# As the engine ticks: one query a second while nothing is due.
TICK_S = 1.0
SECRET_PREFIX = "whsec_"

_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-resolve")
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(Exception):
    """A webhook the gateway will not send to: the caller's error (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Subscription:
    url: str
    events: tuple[str, ...]
    # The origin the client called: result links in the events are absolute on it.
    site: str

    def stored(self) -> dict[str, Any]:
        return {"url": self.url, "events": list(self.events), "site": self.site}


# -- at submission ---------------------------------------------------------------------------


def take_subscription(fields: dict[str, Any], site: str) -> Subscription | None:
    """The request's webhook, taken out of its fields (they are the gateway's, not the runner's) and checked."""
    url, events = fields.pop(URL_FIELD, None), fields.pop(EVENTS_FIELD, None)
    if url is None:
        if events not in (None, "", []):
            raise WebhookRefused(f"{EVENTS_FIELD} needs a {URL_FIELD} to send the events to.")
        return None
    if not isinstance(url, str):
        raise WebhookRefused(f"{URL_FIELD} must be a URL (a string).")
    check_url(url)
    return Subscription(url, events_of(events), site)


def events_of(raw: Any) -> tuple[str, ...]:
    """A list of event names (JSON), or one string of them separated by commas (a form); all when none."""
    if raw is None or raw == "":
        return EVENTS
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise WebhookRefused(f"{EVENTS_FIELD} must be a list of event names: {', '.join(EVENTS)}.")
    asked = {name.strip() for name in names if name.strip()}
    unknown = sorted(asked - set(EVENTS))
    if unknown or not asked:
        raise WebhookRefused(f"{EVENTS_FIELD} may name {', '.join(EVENTS)}; got {', '.join(unknown) or 'none'}.")
    return tuple(event for event in EVENTS if event in asked)


def check_url(url: str) -> None:
    """Refuse a URL that is not http(s), or whose host is not public (unless WEBHOOK_ALLOW_PRIVATE)."""
    host, port = host_and_port(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        refuse_closed(host, resolve(host, port))


def host_and_port(url: str) -> tuple[str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise WebhookRefused(f"{URL_FIELD} may be at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise WebhookRefused(f"{URL_FIELD} must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"{URL_FIELD} is not a URL: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"{URL_FIELD} must be an http or https URL with a host.")
    try:
        # What the sender sends with: a name it cannot encode (IDNA 2008) would fail every try.
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebhookRefused(f"{URL_FIELD} is not a URL: {exc}.") from None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def refuse_closed(host: str, addresses: list[IpAddress]) -> None:
    closed = [address for address in addresses if not is_public(address)]
    if closed:
        raise WebhookRefused(
            f"The webhook's host {host} is {closed[0]}, a private, loopback or link-local address: "
            "webhooks go to public addresses only."
        )


def addresses_of(infos: Iterable[Any]) -> list[IpAddress]:
    # An IPv6 link-local answer may carry its zone ("fe80::1%eth0").
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    # getaddrinfo has no timeout of its own: it runs on a small pool, waited on for a bounded time.
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return addresses_of(lookup.result(timeout=RESOLVE_TIMEOUT_S))
    except ResolveTimeout:
        raise WebhookRefused(f"The webhook's host {host} did not resolve within {RESOLVE_TIMEOUT_S:g} s.") from None
    except OSError as exc:
        raise WebhookRefused(f"The webhook's host {host} does not resolve: {exc.strerror or exc}.") from None
    except UnicodeError as exc:
        # A name the resolver cannot encode (an empty or over-long label): no host by that name.
        raise WebhookRefused(f"The webhook's host {host} does not resolve: {exc}.") from None


async def resolve_async(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S)
    except TimeoutError:
        raise WebhookRefused(f"The webhook's host {host} did not resolve within {RESOLVE_TIMEOUT_S:g} s.") from None
    except OSError as exc:
        raise WebhookRefused(f"The webhook's host {host} does not resolve: {exc.strerror or exc}.") from None
    except UnicodeError as exc:
        raise WebhookRefused(f"The webhook's host {host} does not resolve: {exc}.") from None
    return addresses_of(infos)


# -- the events, written with the change they report ---------------------------------------------


def subscription_of(job: Job) -> Subscription | None:
    stored = (job.parameters or {}).get(URL_FIELD)
    if not isinstance(stored, dict):
        return None
    return Subscription(str(stored["url"]), tuple(stored["events"]), str(stored.get("site", "")))


def announce(job_ids: Iterable[Any], event: str) -> None:
    """Inside the transaction making the change: an event for each of these jobs that asked for it."""
    for job in Job.objects.filter(id__in=list(job_ids), parameters__has_key=URL_FIELD):
        announce_job(job, event)


def announce_job(job: Job, event: str) -> None:
    subscription = subscription_of(job)
    if subscription is None or event not in subscription.events:
        return
    WebhookDelivery.objects.create(
        job=job, event=event, url=subscription.url, body=body_of(job, event, subscription.site)
    )


def body_of(job: Job, event: str, site: str) -> str:
    """The job's state as `GET /jobs/<id>` answers it, under the event's type and time."""
    state = job_state(job, lambda path: site + signed_media_url(path))
    moment = timezone.now().astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": f"job.{event}", "timestamp": moment, "data": state}, separators=(",", ":"))


def wants(job: Job, event: str) -> bool:
    subscription = subscription_of(job)
    return subscription is not None and event in subscription.events


# -- signing (the Standard Webhooks scheme) ---------------------------------------------------------


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def message_id(delivery_id: uuid.UUID) -> str:
    return f"msg_{delivery_id.hex}"


# -- sending, off the jobs' path -----------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    id: uuid.UUID
    url: str
    body: str
    secret: str
    attempts: int  # tries before this one


def lease() -> timedelta:
    """How long a claimed delivery is this engine's: past its try's longest time, another engine may send it."""
    return timedelta(seconds=2 * (settings.WEBHOOK_TIMEOUT_S + RESOLVE_TIMEOUT_S) + 5)


def claim_due(limit: int) -> list[Outgoing]:
    """Up to `limit` due deliveries, each claimed by one conditional update, so two engines never both send one."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = list(
        WebhookDelivery.objects.filter(free, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    claimed = [
        delivery_id
        for delivery_id in due
        if WebhookDelivery.objects.filter(free, id=delivery_id, next_attempt_at__isnull=False).update(
            claimed_until=now + lease()
        )
    ]
    deliveries = WebhookDelivery.objects.filter(id__in=claimed).select_related("job__api_key").order_by("created_at")
    return [
        Outgoing(d.id, d.url, d.body, d.job.api_key.webhook_secret if d.job.api_key else "", d.attempts)
        for d in deliveries
    ]


def retry_delay_s(failures: int) -> float:
    return settings.WEBHOOK_RETRY_BASE_MS / 1000 * 4 ** (failures - 1)


def record(outgoing: Outgoing, status_code: int | None, error: str, final: bool = False) -> None:
    """One try's outcome: delivered on a 2xx; otherwise tried again later, or given up after the last try."""
    now = timezone.now()
    attempts = outgoing.attempts + 1
    fields: dict[str, Any] = {"attempts": attempts, "claimed_until": None, "status_code": status_code}
    if status_code is not None and 200 <= status_code < 300:
        fields.update(delivered_at=now, next_attempt_at=None, last_error="")
    elif final or attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(next_attempt_at=None, last_error=f"gave up after {attempts} tries; last: {error}"[:2000])
    else:
        fields.update(next_attempt_at=now + timedelta(seconds=retry_delay_s(attempts)), last_error=error[:2000])
    WebhookDelivery.objects.filter(id=outgoing.id).update(**fields)


class WebhookSender:
    """Sends due deliveries, each its own task on the event loop, at most `concurrency` at once."""

    def __init__(self, client: httpx.AsyncClient, concurrency: int | None = None) -> None:
        self.client = client
        self.concurrency = concurrency or settings.WEBHOOK_CONCURRENCY
        self.sending: set[asyncio.Task[None]] = set()

    async def deliver_due(self) -> list[asyncio.Task[None]]:
        room = self.concurrency - len(self.sending)
        if room <= 0:
            return []
        started = []
        for outgoing in await sync_to_async(claim_due, thread_sensitive=True)(room):
            task = asyncio.create_task(self.send(outgoing))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)
            started.append(task)
        return started

    async def send(self, outgoing: Outgoing) -> None:
        status_code, error, final = None, "", False
        try:
            if not outgoing.secret:
                raise WebhookRefused("the job's API key no longer exists, so there is nothing to sign with")
            host, port = host_and_port(outgoing.url)
            url: str | httpx.URL = outgoing.url
            pinned: dict[str, str] = {}
            extensions: dict[str, Any] = {}
            if not settings.WEBHOOK_ALLOW_PRIVATE:
                addresses = await resolve_async(host, port)
                refuse_closed(host, addresses)
                # Sent to the address just checked, not to a second lookup that may answer otherwise.
                url, pinned, extensions = pin(outgoing.url, addresses[0])
            timestamp = int(time.time())
            headers = {
                **pinned,
                "content-type": "application/json",
                "webhook-id": message_id(outgoing.id),
                "webhook-timestamp": str(timestamp),
                "webhook-signature": signature(outgoing.secret, message_id(outgoing.id), timestamp, outgoing.body),
            }
            timeout = httpx.Timeout(settings.WEBHOOK_TIMEOUT_S)
            request = self.client.build_request(
                "POST", url, content=outgoing.body.encode(), headers=headers, timeout=timeout, extensions=extensions
            )
            # Streamed and never read: a receiver's answer body costs nothing here, whatever its size.
            async with await_response(self.client, request) as response:
                status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"the receiver answered {status_code}"
        except WebhookRefused as exc:
            error, final = exc.message, True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        await sync_to_async(record, thread_sensitive=True)(outgoing, status_code, error, final)

    async def stop(self) -> None:
        for task in list(self.sending):
            task.cancel()
        await asyncio.gather(*self.sending, return_exceptions=True)


def pin(url: str, address: IpAddress) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """`url` with its host replaced by `address`, the Host header and (for https) the TLS name it had:
    the connection goes where the check said, and the receiver sees (and its certificate is checked
    against) the name the caller gave. A name rebound to a closed address after the check changes nothing."""
    named = httpx.URL(url)
    extensions: dict[str, Any] = {}
    if named.scheme == "https":
        extensions["sni_hostname"] = named.raw_host.decode("ascii")
    return named.copy_with(host=str(address)), {"host": named.netloc.decode("ascii")}, extensions


@contextlib.asynccontextmanager
async def await_response(client: httpx.AsyncClient, request: httpx.Request) -> AsyncIterator[httpx.Response]:
    response = await client.send(request, stream=True)
    try:
        yield response
    finally:
        await response.aclose()


def webhook_client() -> httpx.AsyncClient:
    # No proxies from the environment and no redirects: a redirect could lead to a closed address.
    return httpx.AsyncClient(trust_env=False, follow_redirects=False, limits=httpx.Limits(max_connections=256))


async def deliver_forever() -> None:
    """An engine's webhook loop (gateway/engine.py); canceled with the engine, the sends in flight with it
    (their rows are claimed for a while, then sent again: a receiver may see an event twice, same id)."""
    async with webhook_client() as client:
        sender = WebhookSender(client)
        try:
            while True:
                try:
                    await sender.deliver_due()
                except Exception:
                    logger.exception("webhook deliveries could not be read; trying again")
                await asyncio.sleep(TICK_S)
        finally:
            await sender.stop()
