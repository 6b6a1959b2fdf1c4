"""JSON from outside the process, parsed within bounds: nesting depth, finite numbers, valid Unicode.

`json.loads` recurses in C once per nesting level and counts on the interpreter's
recursion limit to stop it. py_ecc (imported by eth-account) raises that limit to
100,000, far more frames than a thread's C stack holds, so 64 KB of `[` crashed the
whole web process instead of raising. Here the depth is counted first, with no
recursion at all; and `restore_recursion_limit` puts the limit back once py_ecc is
loaded (the payments app does it when Django starts), for every other recursive
parser too.

Size is each caller's bound (a body limit, a header limit): this module only makes
sure that what fits in the size cannot cost more than its size.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import numpy as np

# Nothing this network reads nests more than a few levels (a ticket header, a receipt: 3).
MAX_DEPTH = 32
# CPython's own default: deep enough for Django, pydantic and web3, shallow enough that
# any recursion runs out of frames (RecursionError) long before the C stack does.
RECURSION_LIMIT = 1000

_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonRefused(ValueError):
    """Input that is not JSON this service takes; `kind` names the rule (json_invalid, json_too_deep, ...)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The value of a UTF-8 JSON document, or JsonRefused saying which rule it breaks."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError:
        raise JsonRefused("JSON must be UTF-8.", "json_invalid") from None
    if nested_deeper_than(text, max_depth):
        raise JsonRefused(f"JSON may nest at most {max_depth} levels deep.", "json_too_deep")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except JsonRefused:
        raise
    except RecursionError:
        # Only when a caller allows more depth than the recursion limit.
        raise JsonRefused("JSON is nested too deeply.", "json_too_deep") from None
    except ValueError as exc:
        # JSONDecodeError (where and what), and int() refusing a number of more than 4,300 digits.
        raise JsonRefused(f"JSON decode error: {exc}", "json_invalid") from None
    _check_strings(value)
    return value


def nested_deeper_than(text: str, max_depth: int) -> bool:
    """Whether any array or object in `text` sits more than `max_depth` levels deep.

    Exact for JSON; for text that is not, at least as deep as `json.loads` would go
    before it stops at the first error. Linear, in C: a megabyte takes milliseconds.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    if '"' in text:
        # Escaped backslashes first, so that the quote in `\\"` still ends its string;
        # then what lies between quotes (the odd pieces) is string content.
        text = "".join(text.replace("\\\\", "").replace('\\"', "").split('"')[::2])
    codes = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    steps = (codes == ord("[")).astype(np.int32)
    steps += codes == ord("{")
    steps -= codes == ord("]")
    steps -= codes == ord("}")
    return int(np.cumsum(steps).max(initial=0)) > max_depth


def restore_recursion_limit() -> None:
    """Import py_ecc now, so its raising of the limit happens once and here, then put the limit back."""
    import py_ecc  # noqa: F401

    sys.setrecursionlimit(RECURSION_LIMIT)


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"Numbers must be finite: {name} is not a JSON number.", "finite_number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if number in (float("inf"), float("-inf")):
        raise JsonRefused(f"Numbers must be finite: {literal[:20]} is out of range.", "finite_number")
    return number


def _check_strings(value: Any) -> None:
    check_text(value)


def check_text(value: Any) -> None:
    """Every string in `value` is text that can be stored and sent on: JsonRefused if not.

    `"\ud800"` is valid JSON but no valid text: it cannot be encoded as UTF-8. `"\u0000"`
    is valid text, but PostgreSQL's text and jsonb cannot hold it (and no prompt needs it).
    Iterative, though the depth is already bounded.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise JsonRefused(
                    "Strings must be valid Unicode: a lone surrogate (\\ud800-\\udfff) is not.", "string_unicode"
                )
            if "\x00" in item:
                raise JsonRefused("Strings must not contain the NUL character (\\u0000).", "string_unicode")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def storable(value: Any) -> Any:
    """`value` (what a runner answered) with NUL characters taken out of every string, so that
    PostgreSQL's jsonb can hold it; nothing else changes."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
