"""The job engine: one asyncio process that fills free slots from the queue and streams stages from nodes.

- No thread per stage: every stage is a task on one event loop, streaming from
  its node over one pooled `httpx.AsyncClient`; the short DB work around it runs
  in Django's one sync thread (`sync_to_async`, thread-sensitive).
- Event-driven: a stage that ends dispatches its capability at once, so a freed
  slot goes to the next waiting stage within milliseconds; a job queued or
  canceled in another process wakes every engine through Redis pub/sub; and a
  one-second tick dispatches everything anyway, so a lost wake-up costs a second.
- Several engines (processes, machines) share the queue: dispatch is serialised
  per capability by a row lock (gateway/queue.py). Each engine beats a heartbeat;
  the stages of one that stops beating are re-queued by the others (`reclaim_lost`).
- Every step is relayed to the job's watchers at once; the row is written at
  most every PROGRESS_WRITE_S (the last step always), which is also when a
  cancel seen in the row stops the stream; a cancel published by `Job.cancel`
  stops it at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.utils import timezone
from httpx_sse import SSEError, aconnect_sse

from livepeer_ai.gateway import dispatch, network, queue, slots, webhooks
from livepeer_ai.gateway.dispatch import JobAbandoned, PreparedStage
from livepeer_ai.gateway.models import EngineWorker, Job, JobStatus, Orchestrator
from livepeer_ai.gateway.progress import publish_queue_moved, publish_step
from livepeer_ai.gateway.wake import WAKE_CHANNEL, listen_here, stop_listening
from livepeer_ai.messages import CHAIN_UNAVAILABLE
from livepeer_ai.payments.wire import PAYMENT_ACCEPTED_HEADER
from livepeer_ai.pipelines.previews import MIN_INTERVAL_S as PREVIEW_MIN_INTERVAL_S
from livepeer_ai.pipelines.previews import PREVIEWS_HEADER, is_preview
from livepeer_ai.runner.client import CONNECT_TIMEOUT_S, RunnerError, error_code, error_message

logger = logging.getLogger(__name__)

T = TypeVar("T")

TICK_S = 1.0
# Go-livepeer's /info call: connect 3 s, whole call 8 s (docs/protocol.md).
INFO_TIMEOUT = httpx.Timeout(8.0, connect=3.0)


async def db(function: Callable[..., T], *args: Any) -> T:
    """Run DB work in Django's one sync thread; a broken connection is dropped so the next call reconnects."""

    def call() -> T:
        try:
            return function(*args)
        except Exception:
            if connection.connection is not None and not connection.is_usable():
                connection.close()
            raise

    return await sync_to_async(call, thread_sensitive=True)()


class StatementCounter:
    """Counts the SQL statements this process sends (the benchmark's DB load per waiting job)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)

    def install(self, **kwargs: Any) -> None:
        kwargs["connection"].execute_wrappers.append(self)


class Engine:
    def __init__(
        self, name: str = "", max_stages: int | None = None, stats_file: str = "", own_heartbeat: bool = True
    ) -> None:
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.max_stages = max_stages or settings.ENGINE_MAX_STAGES
        self.stats_file = stats_file
        self.running: dict[int, asyncio.Task[None]] = {}
        # The stream part of each running stage, by row and by job: what a cancel or a stop cancels.
        self.streams: dict[int, asyncio.Task[Any]] = {}
        self.by_job: dict[str, asyncio.Task[Any]] = {}
        self.canceled_jobs: set[str] = set()
        self.dirty: set[str] = set()
        self.dirty_all = True
        # Service URIs of the nodes the last look at the network found (None until the first).
        self.known: set[str] | None = None
        self.chain_outages = network.ChainOutages()
        self.stopping = False
        self.heart_stopped = threading.Event()
        # An engine inside another program's transaction (run_job in a test or a shell) beats on the
        # DB thread, which shares that transaction; `run_engine` beats on a thread of its own.
        self.own_heartbeat = own_heartbeat
        self.stages_finished = 0
        self.statements = StatementCounter()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.woken: asyncio.Event | None = None
        self.client: httpx.AsyncClient | None = None

    # -- messages from anywhere ------------------------------------------

    def post(self, message: str) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.on_message, message)

    def on_message(self, message: str) -> None:
        kind, _, rest = message.partition(" ")
        if kind == "dispatch":
            self.dirty.add(rest)
        elif kind == "cancel":
            task = self.by_job.get(rest)
            if task is not None:
                self.canceled_jobs.add(rest)
                task.cancel()
        else:
            self.dirty_all = True
        self.wake()

    def stop(self) -> None:
        """From any thread: stop dispatching, hand the running stages back, return from `run`."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        self.stopping = True
        self.wake()

    def wake(self) -> None:
        if self.woken is not None:
            self.woken.set()

    # -- the loop ---------------------------------------------------------

    async def run(self, until: Callable[[], Awaitable[bool]] | None = None, drain: bool = False) -> None:
        """Dispatch and stream until stopped (or until `until()` says so, checked every wake-up)."""
        self.loop = asyncio.get_running_loop()
        self.woken = asyncio.Event()
        connection_created.connect(self.statements.install)
        limits = httpx.Limits(max_connections=self.max_stages + 64, max_keepalive_connections=256)
        self.client = httpx.AsyncClient(limits=limits, timeout=INFO_TIMEOUT, trust_env=False)
        listen_here(self)
        background: list[asyncio.Task[None]] = []
        heart = threading.Thread(target=self.beat_heart, name=f"heartbeat-{self.name}", daemon=True)
        try:
            await db(queue.heartbeat, self.name)
            if self.own_heartbeat:
                heart.start()
            try:
                await self.refresh_network()
            except Exception:
                # The network (or the chain it is discovered on) may be down: the periodic refresh retries.
                logger.exception("engine %s: first look at the network failed", self.name)
            background = [
                asyncio.create_task(self.every(settings.ENGINE_HEARTBEAT_S, self.beat)),
                asyncio.create_task(self.every(max(1.0, settings.ORCHESTRATOR_INFO_TTL_S), self.refresh_network)),
                asyncio.create_task(webhooks.deliver_forever()),  # never on a stage's path
            ]
            if settings.REDIS_URL:
                background.append(asyncio.create_task(self.listen()))
            if self.stats_file:
                background.append(asyncio.create_task(self.every(1.0, self.write_stats)))
            last_full = time.monotonic()
            while not self.stopping:
                try:
                    await asyncio.wait_for(self.woken.wait(), timeout=TICK_S)
                except TimeoutError:
                    pass
                self.woken.clear()
                if time.monotonic() - last_full >= TICK_S:
                    # Once a tick whatever wakes us: every capability, and the maximum wait.
                    last_full = time.monotonic()
                    self.dirty_all = True
                try:
                    await self.dispatch_waiting()
                except Exception:
                    logger.exception("dispatch failed; retrying at the next tick")
                if until is not None and await until():
                    break
        finally:
            self.stopping = True
            for task in background:
                task.cancel()
            await self.stop_stages(drain)
            self.heart_stopped.set()
            if heart.is_alive():
                heart.join(timeout=10)
            stop_listening(self)
            connection_created.disconnect(self.statements.install)
            await self.client.aclose()
            if self.stats_file:
                self.write_stats_now()
            await db(EngineWorker.objects.filter(name=self.name).delete)

    async def stop_stages(self, drain: bool) -> None:
        """Drained: every stage runs to its end. Otherwise the streams stop and their stages go back to the queue."""
        if not drain:
            for streaming in list(self.streams.values()):
                streaming.cancel()
        while self.running:
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def every(self, period_s: float, action: Callable[[], Awaitable[None]]) -> None:
        while not self.stopping:
            await asyncio.sleep(period_s)
            try:
                await action()
            except Exception:
                logger.exception("engine %s: %s failed", self.name, getattr(action, "__name__", action))

    def beat_heart(self) -> None:
        """The heartbeat, on its own thread and connection: slow work on the DB thread never delays it,
        so no live engine has its stages taken by the others."""
        from django.db import connection as own

        while not self.heart_stopped.wait(settings.ENGINE_HEARTBEAT_S):
            try:
                queue.heartbeat(self.name)
            except Exception:
                logger.warning("engine %s: heartbeat failed", self.name, exc_info=True)
                own.close()
        own.close()

    async def beat(self) -> None:
        """Re-queue the stages of engines that stopped beating, and any of ours this engine lost track of."""
        if not self.own_heartbeat:
            await db(queue.heartbeat, self.name)
        keys = await db(queue.reclaim_lost)
        before = timezone.now() - timedelta(seconds=settings.ENGINE_LEASE_S)
        keys += await db(queue.release_orphans, self.name, set(self.running), before)
        for key in keys:
            self.dirty.add(key)
            self.wake()

    async def listen(self) -> None:
        import redis.asyncio as aioredis

        while not self.stopping:
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(WAKE_CHANNEL)
                # Whatever was published while we were not listening is found by dispatching everything.
                self.dirty_all = True
                self.wake()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.on_message(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("engine %s lost Redis; listening again in 1 s", self.name, exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()

    # -- dispatching ------------------------------------------------------

    async def dispatch_waiting(self) -> None:
        keys = set(self.dirty)
        self.dirty.clear()
        if self.dirty_all:
            self.dirty_all = False
            keys |= {queue.capability_key(p, m) for p, m in await db(queue.waiting_capabilities)}
            for assignment in await db(queue.expire_waiting, self.name):
                self.start(assignment)
        for key in sorted(keys):
            if not await self.dispatch_capability(key):
                # Full: these wait for one of ours to end (which dispatches again) or another engine.
                self.dirty |= keys
                return

    async def dispatch_capability(self, key: str) -> bool:
        """Fill the capability's free slots; False when this engine streams all it may already."""
        room = self.max_stages - len(self.running)
        if self.stopping:
            # Nothing new once stopping: what this engine would take, another takes.
            return True
        if room <= 0:
            return False
        pipeline, _, model_id = key.partition(" ")
        held = self.chain_outages.held()
        assignments = await db(queue.dispatch, pipeline, model_id, self.name, None, room, self.known, held)
        for assignment in assignments:
            self.start(assignment)
        if assignments:
            await publish_queue_moved(key)
        return True

    def start(self, assignment: queue.Assignment) -> None:
        task = asyncio.create_task(self.run_stage(assignment))
        self.running[assignment.entry_id] = task
        self.by_job[assignment.job_id] = task

    # -- one stage --------------------------------------------------------

    async def run_stage(self, assignment: queue.Assignment) -> None:
        """One stage, start to outcome. Only the stream part is ever canceled (a job canceled, the
        engine stopping); every outcome is written whatever happens, so no attempt is left without one."""
        started = time.monotonic()
        streaming = asyncio.create_task(self.prepare_and_stream(assignment))
        self.streams[assignment.entry_id] = streaming
        self.by_job[assignment.job_id] = streaming
        try:
            try:
                prepared, result = await streaming
            except asyncio.CancelledError:
                took = time.monotonic() - started
                if assignment.job_id in self.canceled_jobs or not self.stopping:
                    await db(dispatch.abandoned, assignment, took)
                else:
                    await db(dispatch.handed_back, assignment, took)
                return
            except JobAbandoned:
                await db(dispatch.abandoned, assignment, time.monotonic() - started)
                return
            except RunnerError as exc:
                if exc.code == CHAIN_UNAVAILABLE:
                    self.chain_outages.record(assignment.service_uri)
                await db(dispatch.failed, assignment, exc, time.monotonic() - started)
                return
            self.chain_outages.clear(assignment.service_uri)
            took = time.monotonic() - started
            # The runner is free once it answered: its slot goes to the next waiting stage, before this result is stored.
            await db(dispatch.slot_freed, assignment)
            try:
                await self.dispatch_capability(assignment.capability)
            except Exception:
                # Another job's dispatch failing is no failure of this stage: the tick retries it.
                logger.exception("dispatch of %s failed; retrying at the next tick", assignment.capability)
            await asyncio.sleep(0)
            media = None
            if prepared.media_work is not None:
                # Seconds of encoding at real sizes: never on the DB thread every stage shares.
                media = await sync_to_async(prepared.media_work, thread_sensitive=False)(result)
            try:
                await db(dispatch.succeeded, assignment, prepared, result, took, media)
            except RunnerError as exc:
                await db(dispatch.failed, assignment, exc, took)
        except Exception:
            logger.exception("stage %s of job %s failed inside the gateway", assignment.pipeline, assignment.job_id)
            try:
                await db(dispatch.internal_error, assignment, time.monotonic() - started)
            except Exception:
                # The row stays ours and running: `release_orphans` hands it back within a heartbeat or two.
                logger.exception("could not record the failure of job %s", assignment.job_id)
        finally:
            self.stages_finished += 1
            self.running.pop(assignment.entry_id, None)
            self.streams.pop(assignment.entry_id, None)
            if self.by_job.get(assignment.job_id) is streaming:
                del self.by_job[assignment.job_id]
                self.canceled_jobs.discard(assignment.job_id)
            # The slot is free in the ledger: give it to the next waiting stage now.
            self.dirty.add(assignment.capability)
            self.wake()

    async def prepare_and_stream(self, assignment: queue.Assignment) -> tuple[PreparedStage, dict[str, Any]]:
        prepared = await db(dispatch.prepare, assignment)
        if assignment.orchestrator_id is not None and settings.WEB3_PROVIDER_URI:
            # Paying asks the node for ticket params and may touch the chain: not on the DB thread.
            payment = await sync_to_async(dispatch.pay, thread_sensitive=False)(assignment, prepared)
            prepared.headers.update(payment.headers)
            prepared.charge, prepared.accepted = payment.charge, payment.accepted
            prepared.fee_wei = payment.fee_wei
        await publish_step(assignment.job_id, prepared.stage_index, 0, 0)
        return prepared, await self.stream(assignment, prepared)

    async def stream(self, assignment: queue.Assignment, prepared: PreparedStage) -> dict[str, Any]:
        assert self.client is not None
        request = prepared.request
        body: dict[str, Any] = {}
        if request.json_body is not None:
            body["json"] = request.json_body
        else:
            body["data"] = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in request.form.items()}
            body["files"] = request.files
        headers = {**prepared.headers, "Accept": "text/event-stream"}
        if prepared.previews:
            headers[PREVIEWS_HEADER] = "1"
        timeout = httpx.Timeout(settings.RUNNER_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        last_write = last_text_write = 0.0
        last_preview: float | None = None
        streamed = ""
        url = f"{prepared.url.rstrip('/')}/{request.pipeline}"
        try:
            async with aconnect_sse(self.client, "POST", url, headers=headers, timeout=timeout, **body) as source:
                response = source.response
                if prepared.accepted is not None and PAYMENT_ACCEPTED_HEADER in response.headers:
                    # The node credited tickets, whatever came after (a refusal too): book what it took.
                    await db(prepared.accepted, response.headers[PAYMENT_ACCEPTED_HEADER])
                if response.status_code >= 400:
                    await response.aread()
                    raise RunnerError(response.status_code, error_message(response), error_code(response))
                async for event in source.aiter_sse():
                    payload = event.json()
                    if event.event == "progress":
                        step, total = prepared.overall(int(payload["step"]), int(payload["total"]))
                        now = time.monotonic()
                        # A node's field is not trusted: only a small JPEG, and never faster than runners send them.
                        preview = payload.get("preview")
                        if not is_preview(preview) or (
                            last_preview is not None and now - last_preview < PREVIEW_MIN_INTERVAL_S
                        ):
                            preview = None
                        else:
                            last_preview = now
                        await publish_step(assignment.job_id, prepared.stage_index, step, total, preview)
                        if (
                            int(payload["step"]) >= int(payload["total"])
                            or now - last_write >= settings.PROGRESS_WRITE_S
                        ):
                            last_write = now
                            if not await db(dispatch.record_progress, assignment.job_id, prepared, step, total):
                                raise JobAbandoned
                    elif event.event == "delta":
                        # A streamed llm answer: the text so far reaches the row as often as progress does.
                        streamed += str(payload["content"])
                        now = time.monotonic()
                        if now - last_text_write >= settings.PROGRESS_WRITE_S:
                            last_text_write = now
                            await db(dispatch.record_streamed_text, assignment.job_id, request.pipeline, streamed)
                    elif event.event == "result":
                        return dict(payload)
                    elif event.event == "error":
                        detail = payload.get("detail", {})
                        msg = detail.get("msg", detail) if isinstance(detail, dict) else detail
                        raise RunnerError(int(payload.get("status", 500)), str(msg))
        except httpx.TimeoutException as exc:
            raise RunnerError(504, f"Runner timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise RunnerError(502, f"Runner unreachable: {exc!r}") from exc
        except (SSEError, ValueError, KeyError, TypeError, AttributeError, httpx.DecodingError) as exc:
            raise RunnerError(502, f"Runner sent a malformed stream: {exc!r}") from exc
        raise RunnerError(502, "Runner closed the stream without a result.")

    # -- the network --------------------------------------------------------

    async def refresh_network(self) -> None:
        """Every node's /info at once, over the pooled client; then the ledger reconciles with it."""
        nodes = await db(network.known_orchestrators)
        self.known = {node.service_uri for node in nodes}
        running = await db(slots.running_by_node)
        sent_at = timezone.now()
        answers = await asyncio.gather(*(self.fetch_info(node) for node in nodes))
        await db(self.apply_infos, nodes, answers, running, sent_at)
        self.dirty_all = True
        self.wake()

    async def fetch_info(self, node: Orchestrator) -> tuple[Any, str]:
        assert self.client is not None
        try:
            response = await self.client.get(f"{node.service_uri}/info", timeout=INFO_TIMEOUT)
            response.raise_for_status()
            return response.json(), ""
        except (httpx.HTTPError, ValueError) as exc:
            return None, f"/info failed: {exc!r}"

    def apply_infos(
        self, nodes: list[Orchestrator], answers: list[tuple[Any, str]], running: dict[int, Any], sent_at: Any
    ) -> None:
        for node, (answer, error) in zip(nodes, answers, strict=True):
            ours = slots.ours_during(node, running.get(node.id, {}), sent_at) if answer is not None else None
            network.apply_info(node, answer, error, ours)
        EngineWorker.objects.filter(name=self.name).update(refreshed_at=timezone.now())

    # -- numbers for the benchmark ----------------------------------------------

    async def write_stats(self) -> None:
        self.write_stats_now()

    def write_stats_now(self) -> None:
        import json

        stats = {"db_statements": self.statements.count, "stages_finished": self.stages_finished}
        tmp = f"{self.stats_file}.tmp"
        with open(tmp, "w") as out:
            json.dump(stats, out)
        os.replace(tmp, self.stats_file)


FINISHED = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED]


def drive_until_finished(job_ids: list[str], timeout_s: float = 600.0) -> None:
    """Run an engine in this thread until the jobs have finished (tests, shells).

    Each job is queued again from where its row says it is, unless a stage of it is
    running. Stages the engine took for other jobs meanwhile run to their end first.
    """
    deadline = time.monotonic() + timeout_s
    for job in Job.objects.filter(id__in=job_ids):
        queue.ensure_queued(job)

    async def finished() -> bool:
        if time.monotonic() > deadline:
            return True
        return not await db(lambda: Job.objects.filter(id__in=job_ids).exclude(status__in=FINISHED).exists())

    async def main() -> None:
        await Engine(own_heartbeat=False).run(until=finished, drain=True)

    async_to_sync(main)()


def run_job(job_id: str, timeout_s: float = 600.0) -> None:
    """Drive one job to its end with an engine in this process (tests, management shells)."""
    drive_until_finished([job_id], timeout_s)
