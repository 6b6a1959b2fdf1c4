"""The one percentile rule of the dashboard's latency figures and the benchmark reports."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """Nearest-rank percentile (`fraction` in [0, 1]): a value that was measured, never an interpolation.

    None when there are no values, so a page or report says "n/a" instead of inventing one.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]
