"""Runner benchmark: p50/p95 latency and peak memory per pipeline, written as Markdown.

    .venv/bin/python -m bench.runners --output docs/benchmarks/runners.md

Each case starts a real runner process (`manage.py run_runner`) on a registry entry,
sends one warm-up request and then N timed ones over HTTP, and reads the
process's peak resident memory (VmHWM) from /proc at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.stack import HTTP
from livepeer_ai.percentile import percentile
from livepeer_ai.pipelines.previews import PREVIEWS_HEADER
from livepeer_ai.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


def _png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (180, 60, 40))
    image.paste((30, 160, 220), (width // 4, height // 4, width // 2, height // 2))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _gif(width: int, height: int, frames: int) -> bytes:
    images = []
    for index in range(frames):
        image = Image.new("RGB", (width, height), (20, 20, 20))
        x = index * width // (2 * frames)
        image.paste((240, 240, 240), (x, height // 3, x + width // 4, height // 3 + height // 4))
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=166, loop=0)
    return buffer.getvalue()


# text-to-speech: a sentence, and the same repeated to the most one request speaks (MAX_SPEECH_CHARACTERS).
SPEECH = "The lighthouse keeper counted the waves until the morning came."
LONGEST_SPEECH = " ".join([SPEECH] * 20)[:1000]


@dataclass
class Case:
    label: str
    pipeline: str
    model_id: str
    shape: str
    request: dict[str, Any]


def cases() -> list[Case]:
    return [
        Case(
            "text-to-image",
            "text-to-image",
            "livepeer-ai/tiny-sdxl-turbo",
            "512×512, 4 steps",
            {"json": {"prompt": "bench", "width": 512, "height": 512, "num_inference_steps": 4, "seed": 1}},
        ),
        Case(
            "text-to-image",
            "text-to-image",
            "livepeer-ai/tiny-sdxl-turbo",
            "1024×576 (API default), 4 steps",
            {"json": {"prompt": "bench", "num_inference_steps": 4, "seed": 1}},
        ),
        Case(
            "text-to-image",
            "text-to-image",
            "livepeer-ai/tiny-sd15",
            "512×512, 25 steps, CFG",
            {"json": {"prompt": "bench", "width": 512, "height": 512, "num_inference_steps": 25, "seed": 1}},
        ),
        Case(
            "image-to-image",
            "image-to-image",
            "livepeer-ai/tiny-sd15",
            "512×512, 25 steps × 0.8",
            {
                "data": {"prompt": "bench", "num_inference_steps": "25", "seed": "1"},
                "files": {"image": ("in.png", _png(512, 512), "image/png")},
            },
        ),
        Case(
            "image-to-video",
            "image-to-video",
            "livepeer-ai/tiny-svd-xt",
            "256×256, 8 frames, 12 steps",
            {
                "data": {"width": "256", "height": "256", "num_inference_steps": "12", "seed": "1"},
                "files": {"image": ("in.png", _png(256, 256), "image/png")},
            },
        ),
        Case(
            "upscale",
            "upscale",
            "livepeer-ai/tiny-sd-x4-upscaler",
            "128×128 → 512×512, 20 steps",
            {
                "data": {"prompt": "bench", "num_inference_steps": "20", "seed": "1"},
                "files": {"image": ("in.png", _png(128, 128), "image/png")},
            },
        ),
        Case(
            "frame-interpolation",
            "frame-interpolation",
            "opencv/dis-flow",
            "8 frames 256×256, ×2 (DIS flow)",
            {"data": {"multiplier": "2", "fps": "12"}, "files": {"video": ("in.gif", _gif(256, 256, 8), "image/gif")}},
        ),
        Case(
            "llm",
            "llm",
            "livepeer-ai/tiny-llama-instruct",
            "2 messages, 256 tokens (default max_tokens), greedy",
            {
                "json": {
                    "messages": [
                        {"role": "system", "content": "You improve prompts for a GIF generator."},
                        {"role": "user", "content": "a cat wearing a tiny hat on the moon"},
                    ],
                    # Greedy never stops early on the tiny model: every request writes all 256 tokens.
                    "temperature": 0,
                }
            },
        ),
        Case(
            "text-to-speech",
            "text-to-speech",
            "livepeer-ai/tiny-vits",
            f"a sentence, {len(SPEECH)} characters",
            {"json": {"text": SPEECH, "seed": 1}},
        ),
        Case(
            "text-to-speech",
            "text-to-speech",
            "livepeer-ai/tiny-vits",
            f"{len(LONGEST_SPEECH):,} characters (the most one request speaks)",
            {"json": {"text": LONGEST_SPEECH, "seed": 1}},
        ),
        Case(
            "segment-anything-2",
            "segment-anything-2",
            "livepeer-ai/tiny-sam2-hiera",
            "256×256 image, 1 point, 3 masks as logits",
            {
                "data": {"point_coords": "[[96, 96]]", "point_labels": "[1]"},
                "files": {"image": ("in.png", _png(256, 256), "image/png")},
            },
        ),
        Case(
            "segment-anything-2",
            "segment-anything-2",
            "livepeer-ai/tiny-sam2-hiera",
            "8 frames 256×256 (GIF), 1 point on frame 0, followed",
            {
                "data": {"point_coords": "[[40, 100]]", "point_labels": "[1]", "return_logits": "false"},
                "files": {"image": ("in.gif", _gif(256, 256, 8), "image/gif")},
            },
        ),
    ]


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_case(case: Case, requests: int) -> dict[str, Any]:
    port = free_port()
    args = [
        sys.executable,
        "manage.py",
        "run_runner",
        "--pipeline",
        case.pipeline,
        "--model",
        case.model_id,
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"runner for {case.model_id} exited with {proc.returncode}")
            try:
                if HTTP.get(base + "/health", timeout=2).json()["status"] == "IDLE":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > 180:
                raise RuntimeError(f"runner for {case.model_id} did not load in 180 s")
            time.sleep(0.2)
        load_s = time.monotonic() - started
        url = f"{base}/{case.pipeline}"
        latencies = []
        for index in range(requests + 1):
            t0 = time.perf_counter()
            response = HTTP.post(url, timeout=600, **case.request)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"{case.label}: {response.status_code} {response.text[:200]}")
            if index:  # the first request is the warm-up
                latencies.append(elapsed)
        return {
            "case": case,
            "p50": statistics.median(latencies),
            "p95": percentile(latencies, 0.95),
            "peak_rss": _peak_rss_mib(proc.pid),
            "load_s": load_s,
            "n": len(latencies),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def preview_cases() -> list[Case]:
    """Streamed jobs (SSE, as the gateway asks for them), measured with and without live previews."""
    return [
        Case(
            "text-to-image",
            "text-to-image",
            "livepeer-ai/tiny-sd15",
            "512×512, 25 steps, CFG, streamed",
            {"json": {"prompt": "bench", "width": 512, "height": 512, "num_inference_steps": 25, "seed": 1}},
        ),
        Case(
            "image-to-video",
            "image-to-video",
            "livepeer-ai/tiny-svd-xt",
            "256×256, 8 frames, 12 steps, streamed",
            {
                "data": {"width": "256", "height": "256", "num_inference_steps": "12", "seed": "1"},
                "files": {"image": ("in.png", _png(256, 256), "image/png")},
            },
        ),
    ]


def run_preview_pair(case: Case, requests: int) -> list[str]:
    """One runner; plain and preview requests alternate, so a shared machine's load falls on both alike."""
    port = free_port()
    args = [sys.executable, "manage.py", "run_runner", "--pipeline", case.pipeline, "--model", case.model_id]
    proc = subprocess.Popen(
        [*args, "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while time.monotonic() - started < 180 and proc.poll() is None:
            try:
                if HTTP.get(base + "/health", timeout=2).json()["status"] == "IDLE":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        timings: dict[bool, list[float]] = {False: [], True: []}
        sizes: list[int] = []
        for index in range(2 * requests + 2):
            previews = index % 2 == 1
            headers = {"Accept": "text/event-stream", **({PREVIEWS_HEADER: "1"} if previews else {})}
            t0 = time.perf_counter()
            response = HTTP.post(f"{base}/{case.pipeline}", timeout=600, headers=headers, **case.request)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200 or "event: result" not in response.text:
                raise RuntimeError(f"{case.label}: {response.status_code} {response.text[:200]}")
            if index >= 2:  # one warm-up of each
                timings[previews].append(elapsed)
                if previews:
                    sizes.append(len(re.findall(r'"preview": ?"([^"]+)"', response.text)))
                    sizes.append(sum(map(len, re.findall(r'"preview": ?"([^"]+)"', response.text))))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    plain, with_previews = (statistics.median(timings[flag]) for flag in (False, True))
    counts, total_bytes = sizes[0::2], sizes[1::2]
    return [
        f"| {case.label} | `{case.model_id}` | {case.shape} | {requests} | {plain:.3f} | {with_previews:.3f} "
        f"| {100 * (with_previews - plain) / plain:+.1f} % | {statistics.median(counts):.0f} "
        f"| {statistics.median(total_bytes) / 1000:.1f} |"
    ]


def table_row(result: dict[str, Any]) -> str:
    c = result["case"]
    return (
        f"| {c.label} | `{c.model_id}` | {c.shape} | {result['n']} | {result['p50']:.3f} | {result['p95']:.3f} | "
        f"{result['peak_rss']:.0f} | {result['load_s']:.1f} |"
    )


def render(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        "# Runner benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, no GPU (CPU, fp32), tiny random-weight models.",
        "",
        f"Command: `{command}`",
        "",
        "Each row: one runner process, one warm-up request, then the timed requests one after another over HTTP "
        "(latency includes PNG/GIF/MP4/WAV encoding and the data-URL response). Peak memory is the runner process's "
        "peak resident set (VmHWM), model load included. Tiny models have real latent shapes (VAE factor 8) but "
        "~1 M-parameter UNets, so these numbers measure the serving path and pipeline overhead, not a real model.",
        "",
        "| pipeline | model | request | n | p50 (s) | p95 (s) | peak RSS (MiB) | load (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [table_row(r) for r in results]
    lines += [
        "",
        "## Full-size architectures on a GPU",
        "",
        "Not measured yet: no GPU machine was lent to the issue that produced this file. With one, the same "
        "command on registry entries built at full size (SDXL-Turbo 512×512 1 step, SVD-XT 14 frames 576×1024, "
        "random weights at real shapes) gives real timings.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default="docs/benchmarks/runners.md")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument(
        "--only", action="append", metavar="PIPELINE", help="Measure these pipelines only and print their rows."
    )
    parser.add_argument(
        "--previews", action="store_true", help="Measure streamed jobs with and without live previews; print rows."
    )
    args = parser.parse_args()
    if args.previews:
        print("| pipeline | model | request | n | p50 plain (s) | p50 with previews (s) | cost | previews | kB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for case in preview_cases():
            if not args.only or case.pipeline in args.only:
                print("\n".join(run_preview_pair(case, args.requests)), flush=True)
        return
    results = []
    for case in cases():
        if args.only and case.pipeline not in args.only:
            continue
        print(f"bench {case.label} {case.model_id} {case.shape} …", flush=True)
        result = run_case(case, args.requests)
        print(f"  p50 {result['p50']:.3f}s p95 {result['p95']:.3f}s peak {result['peak_rss']:.0f} MiB", flush=True)
        results.append(result)
    if args.only:
        # A part of the table, for the rows it replaces: the file is written only with every case.
        print("\n".join(table_row(r) for r in results))
        return
    command = f"make bench  (python -m bench.runners --requests {args.requests})"
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(render(results, command))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
