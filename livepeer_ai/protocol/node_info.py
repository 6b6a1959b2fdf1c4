"""The /info (and /runners) document a node serves: one pydantic schema for both sides.

The node builds its /info through `NodeInfo` (`orchestrator.node.Node.info`). The
gateway and the dashboard read what any node sends through the same schema with
`checked_info`: a node is untrusted (on chain, anyone who stakes runs one), and the
gateway selects nodes from this document for every job while every dashboard page
renders it. So only the shapes below are kept: counts and prices as non-negative
integers that fit a uint256, names bounded, the address only if it is an Ethereum
address (checksummed) or "". A part that does not fit is dropped and named in a
problem list, which the caller records as the node's error; the good parts are
kept. Unknown keys are ignored, so a newer node still works with this code.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from eth_utils import is_address, to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

MAX_CAPABILITIES = 64
MAX_RUNNERS = 64
MAX_NAME = 200  # pipelines, model ids, runner ids and states, versions, URIs
MAX_ERROR = 2000  # a runner's last error, cut to this
MAX_LOG = 20_000  # a runner's log tail, cut to this (its end is kept)
MAX_AMOUNT = 2**256  # wei fit in a uint256 on chain
PROBLEMS_SHOWN = 5
# Salvaging drops what failed and validates again; a drop can only make a parent miss a
# required key, so two rounds suffice per nesting level. Bounded all the same.
MAX_ROUNDS = 8

# Error types: REFUSED quotes the value a node sent; BOUNDED states the limit only.
REFUSED = "node_info_refused"
BOUNDED = "node_info_bounded"
# Fields whose keys a node names (device names, error codes): shown as ['key'] in problems.
NAMED_MAPS = frozenset({"devices", "failed"})


def shown(value: Any) -> str:
    """A value as a problem quotes it: its repr, cut short (a node chooses it)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse(requirement: str) -> PydanticCustomError:
    return PydanticCustomError(REFUSED, requirement)


def _count(value: Any, minimum: int = 0) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and minimum <= value < MAX_AMOUNT:
        return value
    raise _refuse(f"must be a {'positive' if minimum else 'non-negative'} integer")


def _positive_count(value: Any) -> int:
    return _count(value, minimum=1)


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse("must be a string")
    if len(value) > MAX_NAME:
        raise PydanticCustomError(BOUNDED, f"is longer than {MAX_NAME} characters")
    return value


def _optional_name(value: Any) -> str | None:
    return None if value is None else _name(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _refuse("must be true or false")


def _cut(limit: int, keep_end: bool = False) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _refuse("must be a string")
        if len(value) <= limit:
            return value
        return "…" + value[-limit:] if keep_end else value[:limit] + "…"

    return check


def _address(value: Any) -> str:
    if value == "":
        return ""
    if isinstance(value, str) and is_address(value):
        return str(to_checksum_address(value))
    raise _refuse("is not an Ethereum address")


def _at_most(limit: int, say: bool = True) -> Any:
    """Keep the first `limit` entries of a list or object; say so in the problems if asked."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list) and len(value) > limit:
            if say and info.context is not None:
                info.context["cut"].append((info.field_name, len(value), limit))
            return value[:limit]
        if isinstance(value, dict) and len(value) > limit:
            return dict(list(value.items())[:limit])
        return value

    return check


def _not_null(requirement: str) -> Any:
    """Optional parts default to absent; a node that sends null for one sent the wrong shape."""

    def check(value: Any) -> Any:
        if value is None:
            raise _refuse(requirement)
        return value

    return check


# Each type checks None itself: an absent key stays absent (default, not validated), but an
# explicit null is refused like any other wrong value.
Count = Annotated[int | None, PlainValidator(_count)]
PositiveCount = Annotated[int | None, PlainValidator(_positive_count)]
Name = Annotated[str | None, PlainValidator(_name)]
Flag = Annotated[bool | None, PlainValidator(_flag)]
NamedCounts = Annotated[
    dict[Annotated[str, PlainValidator(_name)], Annotated[int, PlainValidator(_count)]] | None,
    BeforeValidator(_at_most(MAX_CAPABILITIES, say=False)),
    BeforeValidator(_not_null("must be an object")),
]
Object = BeforeValidator(_not_null("must be an object"))


class Part(BaseModel):
    """A part of the document: unknown keys ignored, absent keys stay absent (exclude_unset)."""

    model_config = ConfigDict(extra="ignore")


P = TypeVar("P", bound=Part)


class RunnerStates(Part):
    healthy: Count = None
    restarting: Count = None
    down: Count = None
    restarts: Count = None


class StatsInfo(Part):
    served: Count = None
    failed: NamedCounts = None
    insufficient_capacity: Count = None
    units: Count = None
    fees_wei: Count = None


class RunnerInfo(Part):
    id: Name
    url: Name = None  # where the node reaches the runner: "" while it has none
    state: Name = None
    restarts: Count = None
    in_use: Flag = None
    device: Annotated[str | None, PlainValidator(_optional_name)] = None
    external: Flag = None
    last_error: Annotated[str | None, PlainValidator(_cut(MAX_ERROR))] = None
    log_tail: Annotated[str | None, PlainValidator(_cut(MAX_LOG, keep_end=True))] = None


RunnerList = Annotated[
    list[RunnerInfo] | None, BeforeValidator(_at_most(MAX_RUNNERS)), BeforeValidator(_not_null("must be a list"))
]


class CapabilityInfo(Part):
    pipeline: Name
    model_id: Name
    warm: Flag = None
    capacity: Count = None
    in_use: Count = None
    price_per_unit: Count = None
    pixels_per_unit: PositiveCount = None
    runners: RunnerList = None
    runner_states: Annotated[RunnerStates | None, Object] = None
    stats: Annotated[StatsInfo | None, Object] = None


class HardwareInfo(Part):
    devices: NamedCounts = None


class NodeInfo(Part):
    address: Annotated[str, PlainValidator(_address)] = ""
    service_uri: Name = None
    version: Name = None
    capabilities: Annotated[
        list[CapabilityInfo], BeforeValidator(_at_most(MAX_CAPABILITIES)), BeforeValidator(_not_null("must be a list"))
    ] = []
    hardware: Annotated[HardwareInfo | None, Object] = None

    def document(self) -> dict[str, Any]:
        """The JSON document: what was set, with the address and capabilities always present."""
        return {"address": self.address, "capabilities": [], **self.model_dump(exclude_unset=True)}


class RunnersDocument(Part):
    runners: RunnerList = []


# -- reading what a node sent -----------------------------------------------------------

REQUIREMENTS = {
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
}


def where(root: str, loc: tuple[int | str, ...]) -> str:
    """('capabilities', 0, 'stats', 'failed', 'E1') as capabilities[0].stats.failed['E1']."""
    text, named_map = root, False
    for part in loc:
        if part == "[key]":
            text += " key"
        elif isinstance(part, int):
            text += f"[{part}]"
        elif named_map:
            text += f"[{shown(part)}]"
        else:
            text += f".{part}" if text else part
        named_map = part in NAMED_MAPS
    return text or "/info"


def problem(root: str, error: Any) -> str:
    place = where(root, error["loc"])
    if error["type"] == BOUNDED:
        return f"{place} {error['msg']}"
    requirement = error["msg"] if error["type"] == REFUSED else REQUIREMENTS.get(error["type"], error["msg"])
    return f"{place} {requirement}, got {shown(error['input'])}"


def _drop(document: Any, loc: tuple[int | str, ...]) -> None:
    """Remove the value at `loc` (a "[key]" loc removes its entry); list entries become None."""
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
    parent = document
    for part in loc[:-1]:
        parent = parent[part]
    if isinstance(parent, list) and isinstance(loc[-1], int):
        parent[loc[-1]] = None
    elif isinstance(parent, dict):
        parent.pop(loc[-1], None)


def _without_dropped_entries(document: Any) -> Any:
    """Lists lose the entries that were dropped (None), once every error has been read."""
    if isinstance(document, dict):
        return {key: _without_dropped_entries(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_without_dropped_entries(value) for value in document if value is not None]
    return document


def salvaged(schema: type[P], raw: Any, root: str = "") -> tuple[P | None, list[str]]:
    """The parts of `raw` that fit `schema`, and a problem for each part left out.

    Values are dropped where they fail; a list entry that fails is marked and its
    siblings keep their indices, so every problem names the place the node sent.
    An entry that lost a required key (a runner's id, a capability's pipeline) goes too.
    """
    problems: list[str] = []
    context: dict[str, list[tuple[str, int, int]]] = {"cut": []}
    document = _plain_copy(raw)
    dropped: set[tuple[int | str, ...]] = set()
    for _ in range(MAX_ROUNDS):
        errors = _errors(schema, document, context)
        fresh = [e for e in errors if not _already_dropped(tuple(e["loc"]), e["type"], dropped)]
        if not fresh:
            context["cut"].clear()
            try:
                parsed = schema.model_validate(_without_dropped_entries(document), context=context)
            except ValidationError:
                break
            for field, count, limit in dict.fromkeys(context["cut"]):
                problems.append(f"{where(root, (field,))} has {count} entries; only the first {limit} are kept")
            return parsed, problems
        for error in fresh:
            loc = tuple(error["loc"])
            if not loc:
                problems.append(problem(root, error))
                return None, problems
            if error["type"] == "missing":
                # The entry holding a required key that is absent (or was dropped) goes.
                if loc not in dropped:
                    problems.append(f"{where(root, loc[:-1])} has no {loc[-1]}: left out")
                loc = loc[:-1]
            else:
                problems.append(problem(root, error))
            dropped.add(loc)
            _drop(document, loc)
    return None, problems + [f"{root or '/info'} could not be read"]


def _already_dropped(loc: tuple[int | str, ...], kind: str, dropped: set[tuple[int | str, ...]]) -> bool:
    """An error inside a part already dropped; a dropped required key still takes its entry."""
    if kind == "missing":
        return any(loc[: len(d)] == d for d in dropped if len(d) < len(loc))
    return any(loc[: len(d)] == d for d in dropped)


def _errors(schema: type[Part], document: Any, context: dict[str, Any]) -> list[Any]:
    """The errors of `document` as it stands, dropped list entries (None) still in place."""
    try:
        schema.model_validate(document, context=context)
    except ValidationError as exc:
        return list(exc.errors())
    return []


def _plain_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    return value


def summary(document: str, problems: list[str]) -> str:
    if not problems:
        return ""
    listed = "; ".join(problems[:PROBLEMS_SHOWN])
    more = len(problems) - PROBLEMS_SHOWN
    return f"{document} had values this gateway cannot use, left out: {listed}" + (
        f"; and {more} more" if more > 0 else ""
    )


def _info(raw: Any) -> tuple[dict[str, Any], list[str]]:
    parsed, problems = salvaged(NodeInfo, raw)
    if parsed is None:
        return {"address": "", "capabilities": []}, problems
    return parsed.document(), problems


def _runners(raw: Any) -> tuple[list[dict[str, Any]], list[str]]:
    parsed, problems = salvaged(RunnersDocument, {"runners": raw})
    if parsed is None:
        return [], problems
    return [runner.model_dump(exclude_unset=True) for runner in parsed.runners or []], problems


def checked_info(raw: Any) -> tuple[dict[str, Any], str]:
    """(/info as the gateway and dashboard keep it, the error naming what was left out or "")."""
    kept, problems = _info(raw)
    return kept, summary("/info", problems)


def checked_runners(raw: Any) -> tuple[list[dict[str, Any]], str]:
    """(/runners' list as the dashboard keeps it, the error naming what was left out or "")."""
    kept, problems = _runners(raw)
    return kept, summary("/runners", problems)


def capabilities_of(info: Any) -> list[dict[str, Any]]:
    """The capabilities of a stored /info, checked again: rows an older dashboard stored hold anything."""
    return _info(info)[0]["capabilities"]


def runners_of(runners: Any) -> list[dict[str, Any]]:
    return _runners(runners)[0]
