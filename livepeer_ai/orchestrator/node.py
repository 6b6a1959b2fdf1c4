"""The orchestrator node's HTTP service: /info, and the runner API routes it sells.

A job goes through the steps of docs/protocol.md §2.3 in order: credentials → units →
reserve capacity (503 `insufficient capacity`, before any payment) → payment →
run on a warm runner, SSE progress passed through → sign a receipt for every
output (payments/receipts.py) → debit completed work → release.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp

from livepeer_ai.body_limit import MAX_BODY_BYTES, BodySizeLimit
from livepeer_ai.messages import error_body
from livepeer_ai.orchestrator.config import Capability, NodeConfig
from livepeer_ai.orchestrator.curation import RegistryApprovals
from livepeer_ai.orchestrator.metrics import NodeMetrics, add_metrics_route, error_code
from livepeer_ai.orchestrator.operator_access import admin_token, refusal
from livepeer_ai.orchestrator.payment import PaymentError, PaymentProcessor, Sender
from livepeer_ai.orchestrator.relay import ReceiptFailed, relay_events
from livepeer_ai.orchestrator.runner_http import (
    RUNNER_TIMEOUT,
    fetch_runner_version,
    runner_auth,
    runner_client,
    wait_until_idle,
)
from livepeer_ai.orchestrator.supervisor import SupervisedRunner, Supervisor
from livepeer_ai.payments.receipts import (
    JOB_ID_HEADER,
    UNPINNED,
    Receipt,
    output_media,
    parameters_hash,
    request_parameters,
    signed_document,
)
from livepeer_ai.payments.wire import PAYMENT_ACCEPTED_HEADER
from livepeer_ai.pipelines.audio import decode_audio
from livepeer_ai.pipelines.media import MediaTooLarge, UnsupportedMedia, measure_image_or_video, measure_upload
from livepeer_ai.pipelines.previews import PREVIEWS_HEADER
from livepeer_ai.protocol.node_info import (
    CapabilityInfo,
    HardwareInfo,
    NodeInfo,
    RunnerInfo,
    RunnersDocument,
    RunnerStates,
    StatsInfo,
)
from livepeer_ai.protocol.units import fee_wei, manifest_id, units_for
from livepeer_ai.runner.schemas import (
    FILE_FIELDS,
    NOT_MULTIPART,
    BodyTooLarge,
    RequestInvalid,
    json_object,
    missing_field_error,
)

logger = logging.getLogger(__name__)

NODE_VERSION = "0.1.0"
# The gateway's job id ("<job uuid>:<stage>") or any caller's own: what the receipts name.
JOB_ID = re.compile(r"[\x21-\x7e]{1,200}")


def error(status: int, msg: str, code: str = "") -> JSONResponse:
    return JSONResponse(error_body(msg, code), status_code=status)


@dataclass
class CapabilityStats:
    served: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    insufficient_capacity: int = 0
    units: int = 0
    fees_wei: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "failed": dict(self.failed),
            "insufficient_capacity": self.insufficient_capacity,
            "units": self.units,
            "fees_wei": self.fees_wei,
        }


class RequestRejected(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class ParsedJob:
    capability: Capability
    fields: dict[str, Any]
    units: int
    body: bytes
    content_type: str
    job_id: str
    parameters_hash: str

    @property
    def manifest(self) -> str:
        return manifest_id(self.capability.pipeline, self.capability.model_id)


class Node:
    def __init__(
        self,
        config: NodeConfig,
        identity: LocalAccount,
        supervisor: Supervisor,
        payments: PaymentProcessor,
        *,
        chain_id: int,
        model_revisions: Mapping[tuple[str, str], str] | None = None,
        approvals: RegistryApprovals | None = None,
    ) -> None:
        self.config = config
        self.identity = identity
        self.address = identity.address
        self.chain_id = chain_id
        # (pipeline, model_id) → what receipts name as the weights' revision (receipts.model_revision).
        self.model_revisions = dict(model_revisions or {})
        self.supervisor = supervisor
        self.payments = payments
        self.stats = {c.key: CapabilityStats() for c in config.capabilities}
        # Which capabilities the registry approves; None sells every configured one (tests without curation).
        self.approvals = approvals
        self.metrics = NodeMetrics()
        self._pending_releases: set[asyncio.Task[None]] = set()
        self._runner_versions: dict[tuple[str, int], str] = {}
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The node's one client to its runners (runner_http.py), open while its app runs."""
        if self._http is None:
            raise RuntimeError("The node talks to its runners only while its app runs (create_node_app).")
        return self._http

    @asynccontextmanager
    async def runner_connections(self) -> AsyncIterator[httpx.AsyncClient]:
        """Open the runner client for the app's lifetime; on the way out, stop waiting on canceled jobs."""
        async with runner_client() as http:
            self._http = http
            try:
                yield http
            finally:
                for task in list(self._pending_releases):
                    task.cancel()
                self._http = None

    def capability_for(
        self, pipeline: str, model_id: str, advertised: list[Capability] | None = None
    ) -> Capability | None:
        """The configured capability a request names; with no model named, the pipeline's first
        advertised one (the first configured when none is, which is then refused as not approved)."""
        offered = [c for c in self.config.capabilities if c.pipeline == pipeline]
        if not model_id:
            approved = [c for c in offered if advertised is None or c in advertised]
            return next(iter(approved or offered), None)
        return next((c for c in offered if c.model_id == model_id), None)

    async def advertised(self) -> list[Capability]:
        """The configured capabilities the registry approves: the only ones offered and sold."""
        if self.approvals is None:
            return list(self.config.capabilities)
        approved = await self.approvals.approved()
        return [c for c in self.config.capabilities if c.key in approved]

    def info(self, advertised: list[Capability] | None = None) -> dict[str, Any]:
        """/info, built through the schema the gateway and dashboard read it with."""
        capabilities = []
        for capability in self.config.capabilities if advertised is None else advertised:
            ready, in_use = self.supervisor.capacity(capability.key)
            capabilities.append(
                CapabilityInfo(
                    pipeline=capability.pipeline,
                    model_id=capability.model_id,
                    warm=capability.warm,
                    capacity=ready,
                    in_use=in_use,
                    price_per_unit=capability.price_per_unit,
                    pixels_per_unit=capability.pixels_per_unit,
                    runners=[
                        RunnerInfo.model_validate(r.describe()) for r in self.supervisor.runners_for(capability.key)
                    ],
                    runner_states=RunnerStates.model_validate(self.supervisor.runner_states(capability.key)),
                    stats=StatsInfo.model_validate(self.stats[capability.key].as_dict()),
                )
            )
        return NodeInfo(
            address=self.address,
            service_uri=self.config.service_uri,
            version=NODE_VERSION,
            capabilities=capabilities,
            hardware=HardwareInfo(devices=self.config.devices),
        ).document()

    async def parse(self, request: Request, pipeline: str) -> ParsedJob:
        job_id = request.headers.get(JOB_ID_HEADER) or str(uuid.uuid4())
        if not JOB_ID.fullmatch(job_id):
            raise RequestRejected(
                error(400, f"{JOB_ID_HEADER} must be 1 to 200 printable ASCII characters, no spaces.")
            )
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        input_size, frames, input_ms = None, 0, 0
        uploads: dict[str, bytes] = {}
        try:
            if pipeline not in FILE_FIELDS:
                fields = json_object(body)
            else:
                if not content_type.startswith("multipart/form-data"):
                    raise RequestInvalid(NOT_MULTIPART)
                form = await request.form(max_part_size=MAX_BODY_BYTES)
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
                upload = form.get(FILE_FIELDS[pipeline])
                if not isinstance(upload, UploadFile):
                    raise RequestInvalid(missing_field_error(FILE_FIELDS[pipeline]))
                # Units depend on the input's size (docs/protocol.md §2.4).
                raw = await upload.read()
                uploads[FILE_FIELDS[pipeline]] = raw
                if pipeline == "audio-to-text":
                    input_ms = (await asyncio.to_thread(decode_audio, raw)).duration_ms
                elif pipeline == "segment-anything-2":
                    input_size, frames = await asyncio.to_thread(measure_image_or_video, raw)
                else:
                    input_size, frames = await asyncio.to_thread(measure_upload, raw, pipeline == "frame-interpolation")
        except RequestInvalid as exc:
            raise RequestRejected(JSONResponse({"detail": exc.errors}, status_code=422)) from None
        except (MediaTooLarge, BodyTooLarge) as exc:
            raise RequestRejected(error(413, str(exc))) from None
        except UnsupportedMedia as exc:
            raise RequestRejected(error(415, str(exc))) from None
        try:
            signed_parameters = parameters_hash(request_parameters(fields, uploads))
        except ValueError:
            # JSON's NaN and Infinity parse in Python but have no canonical form to sign.
            invalid = [{"loc": ["body"], "msg": "Numbers must be finite", "type": "finite_number"}]
            raise RequestRejected(JSONResponse({"detail": invalid}, status_code=422)) from None
        # Livepeer's llm request names its model `model`; every other pipeline `model_id`.
        model_id = str(fields.get("model_id") or fields.get("model") or "")
        capability = self.capability_for(pipeline, model_id, await self.advertised())
        if capability is None:
            raise RequestRejected(error(400, f"This node does not serve {pipeline} {model_id!r}."))
        units = units_for(pipeline, fields, input_size, frames, input_ms)
        return ParsedJob(capability, fields, units, body, content_type, job_id, signed_parameters)

    async def handle(self, request: Request, pipeline: str) -> Response:
        try:
            sender = self.payments.check_credentials(request)
            job = await self.parse(request, pipeline)
        except PaymentError as exc:
            return error(exc.status, exc.message)
        except RequestRejected as rejected:
            return rejected.response
        key = job.capability.key
        self.metrics.requested(key)
        if job.capability not in await self.advertised():
            self.metrics.failed(key, "model_not_approved")
            return error(403, f"This node does not sell {key[0]} {key[1]!r}: the network has not approved it.")
        stats = self.stats[key]
        runner = self.supervisor.reserve(key)
        if runner is None:
            stats.insufficient_capacity += 1
            self.metrics.failed(key, "insufficient_capacity")
            return error(503, "insufficient capacity")
        fee = fee_wei(job.units, job.capability.price_per_unit, job.capability.pixels_per_unit)
        try:
            # Tickets touch the DB and the chain: off the event loop.
            recorded = await asyncio.to_thread(self.payments.process_payment, sender, fee, job.manifest)
        except PaymentError as exc:
            self.supervisor.release(runner)
            self.metrics.failed(key, exc.code or f"payment_{exc.status}")
            refused = error(exc.status, exc.message, exc.code)
            if exc.tickets_recorded:
                # Refused after crediting tickets (too few of them): the sender books what was credited.
                refused.headers[PAYMENT_ACCEPTED_HEADER] = str(exc.tickets_recorded)
            return refused
        # A streamed llm answer comes as the node's events (deltas among progress, then the
        # signed result) even when the caller did not ask for them by name.
        streaming = "text/event-stream" in request.headers.get("accept", "") or (
            pipeline == "llm" and job.fields.get("stream") is True
        )
        previews = streaming and request.headers.get(PREVIEWS_HEADER) == "1"
        response = await self.run_on(runner, job, sender, fee, streaming, previews)
        # Whatever the runner answered, the tickets were credited (docs/protocol.md §3.3).
        response.headers[PAYMENT_ACCEPTED_HEADER] = str(recorded)
        return response

    async def finish(self, runner: SupervisedRunner, job: ParsedJob, sender: Sender, fee: int, outcome: str) -> None:
        if outcome == "canceled":
            # The runner stops at its next step, not now: keep the slot until it says
            # so, or the next job reserved here would find the runner still busy.
            task = asyncio.create_task(self._release_when_idle(runner))
            self._pending_releases.add(task)
            task.add_done_callback(self._pending_releases.discard)
        else:
            self.supervisor.release(runner)
        stats = self.stats[job.capability.key]
        if outcome == "ok":
            stats.served += 1
            stats.units += job.units
            stats.fees_wei += fee
            await asyncio.to_thread(self.payments.debit, sender, fee, job.manifest)
        else:
            stats.failed[outcome] += 1
            self.metrics.failed(job.capability.key, error_code(outcome))

    async def _release_when_idle(self, runner: SupervisedRunner, timeout_s: float = 60.0) -> None:
        try:
            await wait_until_idle(self.http, runner, timeout_s)
        finally:
            self.supervisor.release(runner)

    async def run_on(
        self, runner: SupervisedRunner, job: ParsedJob, sender: Sender, fee: int, streaming: bool, previews: bool
    ) -> Response:
        headers = {"content-type": job.content_type, **runner_auth(runner)}
        if streaming:
            headers["accept"] = "text/event-stream"
        if previews:
            # Passed on as asked: the runner's progress events carry them, relayed as they come.
            headers[PREVIEWS_HEADER] = "1"
        try:
            upstream_request = self.http.build_request(
                "POST",
                f"{runner.url}/{job.capability.pipeline}",
                content=job.body,
                headers=headers,
                timeout=RUNNER_TIMEOUT,
            )
            upstream = await self.http.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            await self.finish(runner, job, sender, fee, "runner_unreachable")
            asyncio.create_task(self.supervisor.check(runner))
            return error(502, f"Runner failed: {exc}")
        if not streaming or upstream.status_code != 200:
            try:
                content = await upstream.aread()
            except httpx.HTTPError as exc:
                await self.finish(runner, job, sender, fee, "runner_unreachable")
                return error(502, f"Runner failed: {exc}")
            finally:
                await upstream.aclose()
            if upstream.status_code != 200:
                await self.finish(runner, job, sender, fee, str(upstream.status_code))
                return Response(
                    content,
                    status_code=upstream.status_code,
                    media_type=upstream.headers.get("content-type", "application/json"),
                )
            try:
                result = await self.with_receipts(runner, job, content)
            except ReceiptFailed as exc:
                await self.finish(runner, job, sender, fee, "receipt_failed")
                return error(502, str(exc))
            await self.finish(runner, job, sender, fee, "ok")
            return JSONResponse(result)
        return StreamingResponse(
            relay_events(
                upstream,
                lambda data: self.with_receipts(runner, job, data),
                lambda outcome: self.finish(runner, job, sender, fee, outcome),
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    # -- receipts ------------------------------------------------------------------

    async def runner_version(self, runner: SupervisedRunner) -> str:
        """The runner's /version, asked once per start of a local runner (once per node run for an
        external one); "unknown" when it will not say, asked again next time."""
        key = (runner.url, runner.restarts)
        if key not in self._runner_versions:
            version = await fetch_runner_version(self.http, runner)
            if version is None:
                return "unknown"
            self._runner_versions[key] = version or "unknown"
        return self._runner_versions[key]

    async def with_receipts(self, runner: SupervisedRunner, job: ParsedJob, body: bytes | str) -> dict[str, Any]:
        """The runner's result body with a signed receipt per output added as "receipts", all else unchanged."""
        runner_version = await self.runner_version(runner)
        return await asyncio.to_thread(self._sign_result, job, body, runner_version)

    def _sign_result(self, job: ParsedJob, body: bytes | str, runner_version: str) -> dict[str, Any]:
        try:
            result = json.loads(body)
            if not isinstance(result, dict):
                raise ValueError("it is not a JSON object")
            receipts = [
                signed_document(
                    Receipt(
                        job_id=job.job_id,
                        output_sha256=output.sha256,
                        model_id=job.capability.model_id,
                        model_revision=self.model_revisions.get(job.capability.key, UNPINNED),
                        runner_version=runner_version,
                        parameters_hash=job.parameters_hash,
                        units=job.units,
                        orchestrator=self.address,
                        chain_id=self.chain_id,
                    ),
                    self.identity.key,
                )
                for output in output_media(result)
            ]
        except ValueError as exc:
            raise ReceiptFailed(f"The node could not sign a receipt for the runner's result: {exc}") from None
        return {**result, "receipts": receipts}


def create_node_app(node: Node) -> ASGIApp:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with node.runner_connections() as http:
            # Serve /info at once; runners come up in the background and show as starting.
            startup = asyncio.create_task(node.supervisor.start(http))
            redeemer = getattr(node.payments, "start", None)
            if redeemer is not None:
                redeemer()
            yield
            startup.cancel()
            if redeemer is not None:
                await asyncio.to_thread(node.payments.stop)  # type: ignore[attr-defined]
            await node.supervisor.stop()

    app = FastAPI(title="livepeer-ai orchestrator", version=NODE_VERSION, lifespan=lifespan)
    app.state.node = node

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "OK"}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        return node.info(await node.advertised())

    @app.get("/ticket-params", response_model=None)
    async def ticket_params(sender: str, pipeline: str, model_id: str) -> dict[str, Any] | JSONResponse:
        """Ticket params for one sender at one capability's price (OrchestratorInfo.ticket_params)."""
        capability = node.capability_for(pipeline, model_id)
        if capability is None:
            return error(404, f"This node does not serve {pipeline} {model_id!r}.")
        if capability not in await node.advertised():
            return error(403, f"This node does not sell {pipeline} {model_id!r}: the network has not approved it.")
        if not is_address(sender):
            return error(400, "sender must be an Ethereum address")
        try:
            params = await asyncio.to_thread(
                node.payments.ticket_params,
                to_checksum_address(sender),
                capability.price_per_unit,
                capability.pixels_per_unit,
                manifest_id(capability.pipeline, capability.model_id),
            )
        except PaymentError as exc:
            return error(exc.status, exc.message, exc.code)
        if params is None:
            return error(404, "This node is off chain: it takes no tickets.")
        return params

    @app.get("/runners", response_model=None)
    async def runners(request: Request) -> dict[str, Any] | JSONResponse:
        """Every runner with its state, restarts and log tail: what the operator needs to debug (operator route)."""
        refused = refusal(request, [admin_token()])
        if refused is not None:
            return refused
        # Through the schema the dashboard reads it with (protocol/node_info.py), as /info is.
        listed = [RunnerInfo.model_validate(r.describe(with_log=True)) for r in node.supervisor.runners]
        return RunnersDocument(runners=listed).model_dump(exclude_unset=True)

    add_metrics_route(app, node)
    for pipeline in sorted({c.pipeline for c in node.config.capabilities}):
        app.add_api_route(f"/{pipeline}", job_route(node, pipeline), methods=["POST"])
        app.add_api_route(f"/{pipeline}/", job_route(node, pipeline), methods=["POST"], include_in_schema=False)
    # A job's body is read whole before it is parsed: bounded first, as a runner bounds it.
    return BodySizeLimit(app, MAX_BODY_BYTES)


def job_route(node: Node, pipeline: str) -> Any:
    async def run(request: Request) -> Response:
        return await node.handle(request, pipeline)

    return run
