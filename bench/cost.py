"""What the demo nodes' prices imply per GPU-hour, beside the public cloud's prices: docs/benchmarks/cost.md.

    .venv/bin/python -m bench.cost --output docs/benchmarks/cost.md

Per runner benchmark case (bench/runners.py), the units it bills (the protocol's own
rule, protocol/units.units_for, on the case's actual request), the node's price for
that pipeline (the demo configs, else Livepeer's example price), the fee per job,
and the measured runner seconds per job read from docs/benchmarks/runners.md (run
`python -m bench.runners` first: `make bench` does). A node busy with such jobs
back to back earns fee × 3600 / seconds per hour of its hardware; that is set
beside each cloud GPU-hour price in docs/benchmarks/cloud_prices.csv
(dashboard/cloud_prices.py reads and checks it). Real-architecture GPU seconds
appear only where published, each with its source and date.
"""

from __future__ import annotations

import argparse
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image

from bench.runners import Case, cases
from dashboard.cloud_prices import CloudPrice, load_cloud_prices
from livepeer_ai.orchestrator.config import load_config
from livepeer_ai.payments.amounts import dollars, readable, usd_value
from livepeer_ai.protocol.units import fee_wei, units_for

ROOT = Path(__file__).resolve().parent.parent
RUNNERS_MD = ROOT / "docs" / "benchmarks" / "runners.md"
DEMO_CONFIGS = [ROOT / "config" / "demo" / "orchestrator-1.toml", ROOT / "config" / "demo" / "orchestrator-2.toml"]
# Livepeer's configuration examples' price for the image pipelines (docs/protocol.md §2.1).
EXAMPLE_PRICE = (4_768_371, 1)
SECONDS_PER_HOUR = 3600
# The rate the report's dollars are at: stated in the report, never presented as a market quote.
DEFAULT_USD_PER_ETH = Decimal(3000)


@dataclass(frozen=True)
class PublishedTiming:
    """Seconds per job on real hardware, as its publisher reported them."""

    pipeline: str
    model: str
    request: str
    width: int
    height: int
    seconds: Decimal
    gpu: str
    source: str
    source_url: str
    published: date
    read: date
    note: str


# Only figures a publisher stated; none is measured here (no GPU machine was lent to this issue).
PUBLISHED = [
    PublishedTiming(
        pipeline="text-to-image",
        model="stabilityai/sdxl-turbo",
        request="512×512, 1 step, fp16",
        width=512,
        height=512,
        seconds=Decimal("0.207"),
        gpu="A100",
        source="Stability AI, SDXL Turbo announcement",
        source_url="https://stability.ai/news/stability-ai-sdxl-turbo",
        published=date(2023, 11, 28),
        read=date(2026, 12, 1),
        note="prompt encoding, one denoising step and decoding; read through copies quoting the announcement",
    ),
]


@dataclass(frozen=True)
class CaseCost:
    case: Case
    units: int
    price: tuple[int, int]
    price_source: str
    seconds: Decimal | None  # runner p50 per job, from runners.md

    @property
    def fee_wei(self) -> int:
        return fee_wei(self.units, *self.price)

    @property
    def wei_per_hour(self) -> int | None:
        if not self.seconds:
            return None
        return int(self.fee_wei * SECONDS_PER_HOUR / self.seconds)


def _image_size(raw: bytes) -> tuple[tuple[int, int], int]:
    with Image.open(io.BytesIO(raw)) as image:
        return image.size, getattr(image, "n_frames", 1)


def billed_units(case: Case) -> int:
    """What the case's request bills, by the rule both sides use (docs/protocol.md §2.4)."""
    fields: dict[str, Any] = dict(case.request.get("json") or case.request.get("data") or {})
    size, frames = None, 0
    for _name, (_filename, raw, _type) in (case.request.get("files") or {}).items():
        size, frames = _image_size(raw)
    return units_for(case.pipeline, fields, input_size=size, input_frames=frames)


def node_prices(configs: list[Path]) -> dict[tuple[str, str], tuple[int, int]]:
    prices: dict[tuple[str, str], tuple[int, int]] = {}
    for path in configs:
        for capability in load_config(path).capabilities:
            key = (capability.pipeline, capability.model_id)
            prices.setdefault(key, (capability.price_per_unit, capability.pixels_per_unit))
    return prices


def price_for(case: Case, prices: dict[tuple[str, str], tuple[int, int]]) -> tuple[tuple[int, int], str]:
    if (case.pipeline, case.model_id) in prices:
        return prices[case.pipeline, case.model_id], "demo node"
    for (pipeline, _model), price in prices.items():
        if pipeline == case.pipeline:
            return price, "demo node, same pipeline"
    return EXAMPLE_PRICE, "Livepeer's example price"


def runner_seconds(markdown: str) -> dict[tuple[str, str, str], Decimal]:
    """(pipeline label, model, request) → p50 seconds, from the runner benchmark's table."""
    found = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[1].startswith("`") and re.fullmatch(r"\d+(\.\d+)?", cells[4]):
            found[cells[0], cells[1].strip("`"), cells[2]] = Decimal(cells[4])
    return found


def case_costs(markdown: str, configs: list[Path]) -> list[CaseCost]:
    seconds = runner_seconds(markdown)
    prices = node_prices(configs)
    rows = []
    for case in cases():
        price, source = price_for(case, prices)
        rows.append(
            CaseCost(case, billed_units(case), price, source, seconds.get((case.label, case.model_id, case.shape)))
        )
    return rows


def _eth_usd(wei: int, usd_per_eth: Decimal) -> str:
    return f"{readable(wei)} ({dollars(usd_value(wei, usd_per_eth))})"


def _ratio(ours: Decimal, theirs: Decimal) -> str:
    ratio = ours / theirs
    return f"{ratio:.2g}×" if ratio < 10 else f"{ratio:,.0f}×"


def _price_text(price: tuple[int, int]) -> str:
    per, pixels = price
    return f"{per:,} wei / {pixels:,} unit{'s' if pixels > 1 else ''}"


def render(
    rows: list[CaseCost],
    references: list[CloudPrice],
    usd_per_eth: Decimal,
    runners_header: str,
    now: datetime,
) -> str:
    gpu_time = [r for r in references if r.usd_per_gpu_hour is not None]
    per_output = [r for r in references if r.usd_per_gpu_hour is None]
    lines = [
        "# Cost against the public cloud",
        "",
        f"Written {now:%Y-%m-%d %H:%M} UTC by `python -m bench.cost` (`make bench`). Dollars are at "
        f"${usd_per_eth:,f} per ETH, an assumed rate (the demo feed's price), not a market quote.",
        "",
        "Node prices: the demo nodes' configs (`config/demo/`), else Livepeer's example price of 4,768,371 wei per "
        "pixel ([protocol.md §2.1](../protocol.md)). Units billed: the protocol's own rule on each benchmark request "
        "([protocol.md §2.4](../protocol.md)). Runner seconds: the p50 of [runners.md](runners.md) "
        f"({runners_header}). An operator whose runner serves such jobs back to back earns fee × 3600 / seconds "
        "per hour of that hardware.",
        "",
        "## Tiny models on this machine's CPU",
        "",
        "These seconds are tiny random-weight models on a CPU: they show the arithmetic, not what a real model on a "
        "GPU earns (see the next section for that).",
        "",
        "| pipeline | model | request | units billed | node price | fee per job | runner s per job (p50) "
        "| revenue per runner-hour |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        hourly = row.wei_per_hour
        lines.append(
            f"| {row.case.label} | `{row.case.model_id}` | {row.case.shape} | {row.units:,} | "
            f"{_price_text(row.price)} ({row.price_source}) | {_eth_usd(row.fee_wei, usd_per_eth)} | "
            f"{row.seconds if row.seconds is not None else 'not measured'} | "
            f"{_eth_usd(hourly, usd_per_eth) if hourly is not None else '–'} |"
        )
    lines += [
        "",
        "## Real architectures on a GPU (published timings)",
        "",
        "No GPU machine was lent to this issue, so no real-size timing is measured here; only timings their "
        "publishers stated are used, each with its source.",
        "",
        "| pipeline | model | request | GPU | s per job | node price | fee per job | revenue per GPU-hour | source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    published_hourly: list[tuple[PublishedTiming, Decimal]] = []
    for timing in PUBLISHED:
        price = EXAMPLE_PRICE
        units = units_for(timing.pipeline, {"width": timing.width, "height": timing.height})
        fee = fee_wei(units, *price)
        hourly_wei = int(fee * SECONDS_PER_HOUR / timing.seconds)
        published_hourly.append((timing, usd_value(hourly_wei, usd_per_eth)))
        lines.append(
            f"| {timing.pipeline} | `{timing.model}` | {timing.request} | {timing.gpu} | {timing.seconds} | "
            f"{_price_text(price)} | {_eth_usd(fee, usd_per_eth)} | {_eth_usd(hourly_wei, usd_per_eth)} | "
            f"[{timing.source}]({timing.source_url}), published {timing.published}, read {timing.read}: "
            f"{timing.note} |"
        )
    lines += [
        "",
        "## Cloud GPU time beside it",
        "",
        "What a GPU-hour costs in the cloud, and how many times that the node's revenue per GPU-hour is at each "
        "published timing above. Against an H100 price the A100 timing is used: an H100 runs the job faster, so "
        "there the node would earn more per hour than shown.",
        "",
        "| provider | product | GPU | price | per GPU-hour | as of | source | "
        + " | ".join(f"{t.model} on {t.gpu} earns" for t, _ in published_hourly)
        + " |",
        "|---|---|---|---|---|---|---|" + "---|" * len(published_hourly),
    ]
    for ref in gpu_time:
        hourly_usd = ref.usd_per_gpu_hour
        assert hourly_usd is not None
        ratios = " | ".join(f"{_ratio(ours, hourly_usd)}" for _, ours in published_hourly)
        lines.append(
            f"| {ref.provider} | {ref.product} | {ref.gpu} | ${ref.price_usd} per {ref.unit.removeprefix('gpu_')} | "
            f"{dollars(hourly_usd)} | {ref.as_of} | [{ref.source_url}]({ref.source_url}) | {ratios} |"
        )
    lines += [
        "",
        "## Cloud prices per output beside the fee for the same output here",
        "",
        "| provider | product | price | as of | source | same output here | ratio here / cloud |",
        "|---|---|---|---|---|---|---|",
    ]
    for ref in per_output:
        here = full_size_fee(ref.pipeline)
        if here is None:
            continue
        request, fee = here
        ours = usd_value(fee, usd_per_eth)
        lines.append(
            f"| {ref.provider} | {ref.product} | ${ref.price_usd} per {ref.unit} | {ref.as_of} | "
            f"[{ref.source_url}]({ref.source_url}) | {request}: {_eth_usd(fee, usd_per_eth)} | {_ratio(ours, ref.price_usd)} |"
        )
    lines += [
        "",
        "Every reference price is in [cloud_prices.csv](cloud_prices.csv) with its source URL and the date it was "
        "read; the network overview's cost page (`/network/costs/`) sets the fees jobs actually paid beside the "
        "same references.",
        "",
    ]
    return "\n".join(lines)


# The full-size output a per-output cloud price is for, priced at Livepeer's example price.
FULL_SIZE = {
    "image-to-video": ("SVD-XT 1024×576, billed 25 frames", {"width": 1024, "height": 576}),
    "text-to-image": ("1024×1024 image", {"width": 1024, "height": 1024}),
}


def full_size_fee(pipeline: str) -> tuple[str, int] | None:
    if pipeline not in FULL_SIZE:
        return None
    request, fields = FULL_SIZE[pipeline]
    return request, fee_wei(units_for(pipeline, fields), *EXAMPLE_PRICE)


def runners_measured(markdown: str) -> str:
    found = re.search(r"^Measured (.+?)\.\s*$", markdown, re.M)
    return f"measured {found.group(1)}" if found else "no measurement date found"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="write the Markdown here (default: print it)")
    parser.add_argument("--usd-per-eth", type=Decimal, default=DEFAULT_USD_PER_ETH)
    args = parser.parse_args()
    markdown = RUNNERS_MD.read_text()
    text = render(
        case_costs(markdown, DEMO_CONFIGS),
        load_cloud_prices(),
        args.usd_per_eth,
        runners_measured(markdown),
        datetime.now(UTC),
    )
    if args.output:
        args.output.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
