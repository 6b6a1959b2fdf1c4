"""The cloud reference prices: every figure sourced and dated, or refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from dashboard.cloud_prices import COLUMNS, CloudPriceError, load_cloud_prices


def test_every_reference_price_has_a_source_and_a_date():
    prices = load_cloud_prices()
    assert {price.provider for price in prices} == {"RunPod", "Replicate", "fal.ai"}
    by_product = {(p.provider, p.gpu or p.product): p for p in prices}
    # The figures issue 16 quotes, as the providers' pages give them.
    assert by_product["RunPod", "A100 80GB"].usd_per_gpu_hour == Decimal("2.736")
    assert by_product["RunPod", "H100 PRO 80GB"].price_usd == Decimal("0.00116")
    assert by_product["Replicate", "A100 80GB"].usd_per_gpu_hour == Decimal("5.04")
    assert by_product["Replicate", "H100"].usd_per_gpu_hour == Decimal("5.49")
    svd = by_product["fal.ai", "fal-ai/stable-video (SVD 1.1)"]
    assert (svd.price_usd, svd.unit, svd.pipeline, svd.usd_per_gpu_hour) == (
        Decimal("0.075"),
        "video",
        "image-to-video",
        None,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("source_url", "", "source_url missing"),
        ("as_of", "", "as_of missing"),
        ("as_of", "last week", "not a YYYY-MM-DD date"),
        ("source_url", "http://example.com", "must be an https URL"),
        ("price_usd", "0.5$", "is not a decimal"),
        ("price_usd", "0", "must be positive"),
        ("unit", "per_job", "is not one of"),
    ],
)
def test_a_row_without_its_source_date_or_a_real_price_is_refused(tmp_path: Path, field, value, message):
    row = {
        "provider": "Cloud",
        "product": "GPU",
        "pipeline": "any",
        "price_usd": "1.00",
        "unit": "gpu_hour",
        "gpu": "A100",
        "source_url": "https://example.com/pricing",
        "as_of": "2026-12-01",
        "note": "",
        field: value,
    }
    path = tmp_path / "prices.csv"
    path.write_text(",".join(COLUMNS) + "\n" + ",".join(row[name] for name in COLUMNS) + "\n")
    with pytest.raises(CloudPriceError, match=message):
        load_cloud_prices(path)
