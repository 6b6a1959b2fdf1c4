"""docs/benchmarks/cost.md's arithmetic: units billed per benchmark request, fee, revenue per runner-hour."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bench.cost import DEMO_CONFIGS, CaseCost, billed_units, case_costs, render, runner_seconds
from bench.runners import cases
from dashboard.cloud_prices import load_cloud_prices

RUNNERS_TABLE = """
| pipeline | model | request | n | p50 (s) | p95 (s) | peak RSS (MiB) | load (s) |
|---|---|---|---|---|---|---|---|
| text-to-image | `livepeer-ai/tiny-sdxl-turbo` | 512×512, 4 steps | 10 | 0.500 | 0.599 | 693 | 7.4 |
| image-to-video | `livepeer-ai/tiny-svd-xt` | 256×256, 8 frames, 12 steps | 10 | 10.000 | 12.519 | 915 | 7.3 |
"""


def by_shape() -> dict[str, CaseCost]:
    return {row.case.shape: row for row in case_costs(RUNNERS_TABLE, DEMO_CONFIGS)}


def test_units_are_billed_by_the_protocols_rule_on_each_request():
    units = {case.shape: billed_units(case) for case in cases()}
    assert units["512×512, 4 steps"] == 512 * 512
    assert units["256×256, 8 frames, 12 steps"] == 256 * 256 * 25  # image-to-video bills 25 frames
    assert units["128×128 → 512×512, 20 steps"] == 128 * 128  # upscale bills the input
    assert units["8 frames 256×256, ×2 (DIS flow)"] == 256 * 256 * 15  # (8 - 1) × 2 + 1 output frames
    assert units["2 messages, 256 tokens (default max_tokens), greedy"] == 256  # llm bills max_tokens
    assert units["a sentence, 63 characters"] == 63  # text-to-speech bills the text's characters
    assert units["1,000 characters (the most one request speaks)"] == 1000
    assert units["256×256 image, 1 point, 3 masks as logits"] == 256 * 256  # segment-anything-2: the input
    assert units["8 frames 256×256 (GIF), 1 point on frame 0, followed"] == 256 * 256 * 8  # every frame


def test_revenue_per_runner_hour_is_the_fee_over_the_measured_seconds():
    assert runner_seconds(RUNNERS_TABLE)["text-to-image", "livepeer-ai/tiny-sdxl-turbo", "512×512, 4 steps"] == Decimal(
        "0.500"
    )
    t2i = by_shape()["512×512, 4 steps"]
    assert t2i.price == (4_768_371, 1) and t2i.fee_wei == 512 * 512 * 4_768_371
    assert t2i.wei_per_hour == 512 * 512 * 4_768_371 * 7200
    assert by_shape()["1024×576 (API default), 4 steps"].wei_per_hour is None  # not in this table


def test_the_report_names_every_reference_with_its_source_and_date():
    text = render(
        case_costs(RUNNERS_TABLE, DEMO_CONFIGS), load_cloud_prices(), Decimal(3000), "test", datetime.now(UTC)
    )
    for reference in load_cloud_prices():
        row = next(line for line in text.splitlines() if reference.source_url in line and reference.product in line)
        assert str(reference.as_of) in row
    # SDXL-Turbo's published 0.207 s on an A100 at 4,768,371 wei per pixel: $65.22 an hour at $3000 per ETH.
    assert "0.02174 ETH ($65.22)" in text and "https://stability.ai/news/stability-ai-sdxl-turbo" in text
    assert "| 13× |" in text  # against Replicate's A100 at $5.04
