"""Stand-in runners: many runner API slots in one light asyncio process, with no model behind them.

    .venv/bin/python -m bench.standin_runner --ports 9100-9119 --service text-to-image=1.0,image-to-video=23

Each port behaves like one real runner (`livepeer_ai/runner/app.py`) serving one
pipeline: `GET /health` is IDLE, or OK while a job runs; `POST /text-to-image`
(JSON) and `POST /image-to-video` (multipart) stream `num_inference_steps`
`progress` events spread over the configured service time, then the `result`,
with `Accept: text/event-stream`, or answer the JSON body at the end without it;
a second job while one runs gets 503 `{"detail":{"msg":...}}`, as the real
runner's single slot answers. Outputs are real PNG/GIF/MP4 bytes made once at
start, as base64 data URLs: the node signs a receipt over each output's bytes
and the gateway verifies and stores them.

Every slot records its busy intervals (start, end, the request's seed, outcome)
in wall-clock seconds, served at `GET /busy`, so the harness computes
utilisation and each job's start on a runner from what the runners did, and
matches intervals to jobs by the seed it gave each job.

One uvicorn server listens on every port and routes by the port the request came
in on: twenty slots cost one event loop, not twenty processes, on a 2-core box.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from livepeer_ai.messages import error_body, sse_event

VERSION = "standin-0.1.0"
PIPELINES = ("text-to-image", "image-to-video")
# The real runner's defaults (runner/schemas.py) when a request names no steps.
DEFAULT_STEPS = {"text-to-image": 50, "image-to-video": 25}


@dataclass(frozen=True)
class ServiceTime:
    """Seconds one job takes: `low` fixed, uniform in [low, high], or exponential with mean `low`
    (what Erlang C assumes); then ± `jitter` as a fraction."""

    low: float
    high: float
    jitter: float = 0.0
    exponential: bool = False

    def draw(self, rng: random.Random) -> float:
        if self.exponential:
            base = rng.expovariate(1 / self.low) if self.low > 0 else 0.0
        else:
            base = self.low if self.high <= self.low else rng.uniform(self.low, self.high)
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))

    @property
    def mean(self) -> float:
        return self.low if self.exponential else (self.low + max(self.low, self.high)) / 2


def parse_service(spec: str, jitter: float) -> dict[str, ServiceTime]:
    """`text-to-image=1.0,image-to-video=2.3:6.0` → per-pipeline service times (a:b is uniform,
    exp:2.0 exponential with mean 2.0)."""
    times: dict[str, ServiceTime] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        pipeline, sep, value = item.partition("=")
        if not sep or pipeline not in PIPELINES:
            raise argparse.ArgumentTypeError(
                f"--service items look like text-to-image=1.0 or image-to-video=2:6, not {item!r}"
            )
        if value.startswith("exp:"):
            mean = float(value.removeprefix("exp:"))
            times[pipeline] = ServiceTime(mean, mean, jitter, exponential=True)
            continue
        low, _, high = value.partition(":")
        times[pipeline] = ServiceTime(float(low), float(high or low), jitter)
    return times


def parse_ports(spec: str) -> list[int]:
    """`9100-9119` or `9100,9102` → ports."""
    ports: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        ports += range(int(first), int(last or first) + 1)
    return ports


@dataclass
class Interval:
    start: float
    end: float | None
    seed: int | None
    pipeline: str
    outcome: str = ""


@dataclass
class Slot:
    """One runner: one job at a time, and what it did when."""

    port: int
    pipeline: str
    busy: bool = False
    intervals: list[Interval] = field(default_factory=list)
    cancel: asyncio.Event | None = None


class Outputs:
    """Bytes every job answers with: a 64×64 PNG, and for video 4 frames, a GIF and an MP4."""

    def __init__(self) -> None:
        from PIL import Image

        from livepeer_ai.pipelines.media import encode_gif, encode_mp4

        frames = [Image.new("RGB", (64, 64), (30 + 40 * i, 90, 160)) for i in range(4)]
        buffer = io.BytesIO()
        frames[0].save(buffer, format="PNG")
        self.png = data_url(buffer.getvalue(), "image/png")
        self.frame_pngs = []
        for frame in frames:
            buffer = io.BytesIO()
            frame.save(buffer, format="PNG")
            self.frame_pngs.append(data_url(buffer.getvalue(), "image/png"))
        self.gif = data_url(encode_gif(frames, 6), "image/gif")
        self.mp4 = data_url(encode_mp4(frames, 6), "video/mp4")

    def body(self, pipeline: str, seed: int) -> dict[str, Any]:
        """The real runner's response shape (runner/execute.py), seed echoed as a real runner does."""
        if pipeline == "text-to-image":
            return {"images": [{"url": self.png, "seed": seed, "nsfw": False, "nsfw_checked": False}]}
        frames = [{"url": url, "seed": seed, "nsfw": False, "nsfw_checked": False} for url in self.frame_pngs]
        return {"frames": [frames], "fps": 6, "gif": {"url": self.gif}, "mp4": {"url": self.mp4}}


def data_url(raw: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def error(status: int, msg: str) -> JSONResponse:
    return JSONResponse(error_body(msg), status_code=status)


class StandinRunners:
    def __init__(self, slots: dict[int, Slot], service: dict[str, ServiceTime], seed: int = 0) -> None:
        self.slots = slots
        self.service = service
        self.rng = random.Random(seed)
        self.outputs = Outputs()

    def slot_of(self, request: Request) -> Slot:
        server = request.scope.get("server") or ("", 0)
        return self.slots[int(server[1])]

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "OK" if self.slot_of(request).busy else "IDLE"})

    async def version(self, request: Request) -> Response:
        slot = self.slot_of(request)
        return JSONResponse({"pipeline": slot.pipeline, "model_id": "", "version": VERSION})

    async def hardware(self, request: Request) -> Response:
        slot = self.slot_of(request)
        return JSONResponse({"pipeline": slot.pipeline, "model_id": "", "gpu_info": {}, "device": "standin"})

    async def busy(self, request: Request) -> Response:
        """Every slot's intervals, in wall-clock seconds (time.time), for the harness."""
        return JSONResponse(
            {
                "slots": [
                    {
                        "port": slot.port,
                        "pipeline": slot.pipeline,
                        "intervals": [vars(interval) for interval in slot.intervals],
                    }
                    for slot in self.slots.values()
                ]
            }
        )

    async def configure(self, request: Request) -> Response:
        """Bench-only: new service times and empty intervals for the next scenario, without a restart
        (the nodes keep health-checking these ports, and a restart would count as failures there)."""
        body = json.loads(await request.body())
        self.service = parse_service(str(body.get("service", "")), float(body.get("jitter", 0.0)))
        for slot in self.slots.values():
            slot.intervals = [i for i in slot.intervals if i.end is None]
        return JSONResponse({"service": {k: vars(v) for k, v in self.service.items()}})

    async def cancel(self, request: Request) -> Response:
        slot = self.slot_of(request)
        if slot.cancel is not None:
            slot.cancel.set()
        return JSONResponse({"canceled": slot.cancel is not None})

    async def job(self, request: Request) -> Response:
        slot = self.slot_of(request)
        pipeline = request.url.path.strip("/")
        if pipeline != slot.pipeline:
            return error(404, f"This runner serves {slot.pipeline}, not {pipeline}.")
        try:
            if pipeline == "text-to-image":
                fields = json.loads(await request.body())
            else:
                form = await request.form()
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
                if "image" not in form:
                    return JSONResponse({"detail": [{"loc": ["body", "image"], "msg": "Field required"}]}, 422)
            steps = int(fields.get("num_inference_steps") or DEFAULT_STEPS[pipeline])
            seed = int(fields["seed"]) if fields.get("seed") not in (None, "") else self.rng.randrange(2**32)
        except (ValueError, TypeError):
            return error(400, "Bad request body.")
        if slot.busy:
            return error(503, "Runner is busy with another job.")
        slot.busy = True
        slot.cancel = asyncio.Event()
        interval = Interval(start=time.time(), end=None, seed=seed, pipeline=pipeline)
        slot.intervals.append(interval)
        service_s = self.service.get(pipeline, ServiceTime(1.0, 1.0)).draw(self.rng)
        events = self.run(slot, interval, steps, service_s, seed)
        if "text/event-stream" in request.headers.get("accept", ""):
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        body = b""
        async for chunk in events:
            body = chunk
        payload = json.loads(body.split(b"data: ", 1)[1])
        if interval.outcome != "ok":
            return JSONResponse(payload, status_code=int(payload.pop("status", 409)))
        return JSONResponse(payload)

    async def run(
        self, slot: Slot, interval: Interval, steps: int, service_s: float, seed: int
    ) -> AsyncIterator[bytes]:
        """Steps spread evenly over the service time; the slot frees only when the job really stopped."""
        assert slot.cancel is not None
        step_s = service_s / max(steps, 1)
        try:
            for step in range(1, steps + 1):
                try:
                    await asyncio.wait_for(slot.cancel.wait(), timeout=step_s)
                except TimeoutError:
                    yield sse("progress", {"step": step, "total": steps})
                    continue
                interval.outcome = "canceled"
                yield sse("error", {**error_body("Job canceled."), "status": 409})
                return
            interval.outcome = "ok"
            yield sse("result", self.outputs.body(slot.pipeline, seed))
        finally:
            # Reached on completion and when the client leaves mid-stream (the real runner cancels then).
            interval.outcome = interval.outcome or "canceled"
            interval.end = time.time()
            slot.busy = False
            slot.cancel = None


def sse(kind: str, payload: dict[str, Any]) -> bytes:
    return sse_event(kind, payload).encode()


def create_app(runners: StandinRunners) -> Starlette:
    routes = [
        Route("/health", runners.health),
        Route("/version", runners.version),
        Route("/hardware/info", runners.hardware),
        Route("/busy", runners.busy),
        Route("/cancel", runners.cancel, methods=["POST"]),
        Route("/configure", runners.configure, methods=["POST"]),
    ]
    for pipeline in PIPELINES:
        routes += [
            Route(f"/{pipeline}", runners.job, methods=["POST"]),
            Route(f"/{pipeline}/", runners.job, methods=["POST"]),
        ]
    return Starlette(routes=routes)


def slots_for(ports: list[int], pipelines: list[str]) -> dict[int, Slot]:
    """Ports in order, each given the pipeline at the same index (the last one repeats)."""
    return {port: Slot(port, pipelines[min(i, len(pipelines) - 1)]) for i, port in enumerate(ports)}


def main() -> None:
    import socket

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ports", help="9100-9119 or 9100,9102 (or use --count and --first-port)")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--first-port", type=int, default=9100)
    parser.add_argument(
        "--pipelines",
        default="text-to-image",
        help="pipeline per port, comma-separated in port order; the last one fills the rest",
    )
    parser.add_argument("--service", default="text-to-image=1.0,image-to-video=23", help="seconds per job, a:b uniform")
    parser.add_argument("--jitter", type=float, default=0.0, help="± fraction of each service time, uniform")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ports = parse_ports(args.ports) if args.ports else list(range(args.first_port, args.first_port + args.count))
    if not ports:
        parser.error("give --ports or --count")
    runners = StandinRunners(
        slots_for(ports, args.pipelines.split(",")), parse_service(args.service, args.jitter), args.seed
    )
    sockets = []
    for port in ports:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sockets.append(sock)
    config = uvicorn.Config(create_app(runners), log_level="warning", access_log=False, lifespan="off")
    print(f"stand-in runners on {len(ports)} ports: {ports[0]}..{ports[-1]}", flush=True)
    asyncio.run(uvicorn.Server(config).serve(sockets=sockets))


if __name__ == "__main__":
    main()
