"""Exact sums of a `WeiField` in SQL, grouped, without reading every row.

SQLite cannot SUM 78-digit text, and a SUM cast to a 64-bit integer overflows past
9.2 ETH. A non-negative `WeiField` is stored zero-padded to 78 digits, so it is cut
into nine-digit pieces: each piece casts to an integer, and sums of them stay far
inside 64 bits for any number of rows a database holds (10**9 × 10**9 rows). The
pieces' sums are put back together in Python, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import BigIntegerField, QuerySet, Sum
from django.db.models.functions import Cast, Substr

from livepeer_ai.payments.models import UINT256_DIGITS

PIECE_DIGITS = 9
# (1-based start, length) of each piece, most significant first: 78 digits = 6 + 8 × 9.
PIECES = [(max(1, end - PIECE_DIGITS + 1), min(PIECE_DIGITS, end)) for end in range(UINT256_DIGITS, 0, -PIECE_DIGITS)][
    ::-1
]


def wei_sums(rows: QuerySet[Any], field: str, group_by: Sequence[str]) -> dict[tuple[Any, ...], int]:
    """{group values: exact sum of `field`} over `rows` (non-negative amounts): one query."""
    pieces = {
        f"_piece{index}": Sum(Cast(Substr(field, start, length), BigIntegerField()))
        for index, (start, length) in enumerate(PIECES)
    }
    sums: dict[tuple[Any, ...], int] = {}
    for row in rows.order_by().values(*group_by).annotate(**pieces):
        total = 0
        for index, (start, length) in enumerate(PIECES):
            shift = UINT256_DIGITS - (start - 1) - length
            total += int(row[f"_piece{index}"] or 0) * 10**shift
        sums[tuple(row[name] for name in group_by)] = total
    return sums
