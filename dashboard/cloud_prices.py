"""The public cloud prices our cost per job is set beside (`docs/benchmarks/cloud_prices.csv`).

Each row names its provider, product, price in USD, unit, source URL and the date
it was read; `load_cloud_prices` refuses a row that lacks any of them, so no
figure enters a comparison without its source and date.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

CLOUD_PRICES = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "cloud_prices.csv"
UNITS = {"gpu_second", "gpu_hour", "video", "image", "megapixel"}
COLUMNS = ["provider", "product", "pipeline", "price_usd", "unit", "gpu", "source_url", "as_of", "note"]
SECONDS_PER_HOUR = 3600


class CloudPriceError(ValueError):
    pass


@dataclass(frozen=True)
class CloudPrice:
    provider: str
    product: str
    pipeline: str  # a pipeline name, or "any" for GPU time
    price_usd: Decimal
    unit: str
    gpu: str
    source_url: str
    as_of: date
    note: str

    @property
    def usd_per_gpu_hour(self) -> Decimal | None:
        """GPU time as an hourly price, so per-second and per-hour offers compare; None for per-output prices."""
        if self.unit == "gpu_hour":
            return self.price_usd
        if self.unit == "gpu_second":
            return self.price_usd * SECONDS_PER_HOUR
        return None


def parse_row(line: int, row: dict[str, str]) -> CloudPrice:
    where = f"cloud prices line {line}"
    missing = [
        name
        for name in ("provider", "product", "pipeline", "price_usd", "unit", "source_url", "as_of")
        if not (row.get(name) or "").strip()
    ]
    if missing:
        raise CloudPriceError(f"{where}: {', '.join(missing)} missing")
    try:
        price = Decimal(row["price_usd"])
    except InvalidOperation:
        raise CloudPriceError(f"{where}: price_usd {row['price_usd']!r} is not a decimal") from None
    if not price.is_finite() or price <= 0:
        raise CloudPriceError(f"{where}: price_usd must be positive")
    if row["unit"] not in UNITS:
        raise CloudPriceError(f"{where}: unit {row['unit']!r} is not one of {sorted(UNITS)}")
    if not row["source_url"].startswith("https://"):
        raise CloudPriceError(f"{where}: source_url must be an https URL")
    try:
        as_of = date.fromisoformat(row["as_of"])
    except ValueError:
        raise CloudPriceError(f"{where}: as_of {row['as_of']!r} is not a YYYY-MM-DD date") from None
    return CloudPrice(
        provider=row["provider"],
        product=row["product"],
        pipeline=row["pipeline"],
        price_usd=price,
        unit=row["unit"],
        gpu=row.get("gpu") or "",
        source_url=row["source_url"],
        as_of=as_of,
        note=row.get("note") or "",
    )


def load_cloud_prices(path: Path = CLOUD_PRICES) -> list[CloudPrice]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise CloudPriceError(f"{path.name}: columns must be {COLUMNS}, got {reader.fieldnames}")
        return [parse_row(line, row) for line, row in enumerate(reader, start=2)]
