"""What a node says about itself (/info, /runners), checked before the gateway or the dashboard keeps it.

Any node can write these documents (on chain, anyone who stakes); the gateway
selects nodes from them for every job, and every dashboard page and live push
renders them. So only the shapes a node sends (`orchestrator.node.Node.info`) are
kept: counts and prices as non-negative integers, names bounded, the address only
if it is an Ethereum address (checksummed). Anything else is dropped and named in
a problem list, which the caller records as the node's error. Unknown keys are
dropped silently, so a newer node still works with what this code understands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import is_address, to_checksum_address

MAX_CAPABILITIES = 64
MAX_RUNNERS = 64
MAX_NAME = 200  # pipelines, model ids, runner ids and states, versions, URIs
MAX_ERROR = 2000  # a runner's last error, cut to this
MAX_LOG = 20_000  # a runner's log tail, cut to this (its end is kept)
MAX_AMOUNT = 2**256  # wei fit in a uint256 on chain
PROBLEMS_SHOWN = 5

CAPABILITY_COUNTS = ("capacity", "in_use", "price_per_unit")
STATS_COUNTS = ("served", "insufficient_capacity", "units", "fees_wei")
RUNNER_STATE_COUNTS = ("healthy", "restarting", "down", "restarts")


def shown(value: Any) -> str:
    """A value as a problem quotes it: its repr, cut short (a node chooses it)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Checker:
    problems: list[str] = field(default_factory=list)

    def refuse(self, where: str, requirement: str, value: Any) -> None:
        self.problems.append(f"{where} {requirement}, got {shown(value)}")

    def count(self, where: str, value: Any, minimum: int = 0) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and minimum <= value < MAX_AMOUNT:
            return value
        kind = "positive" if minimum else "non-negative"
        self.refuse(where, f"must be a {kind} integer", value)
        return None

    def name(self, where: str, value: Any) -> str | None:
        if not isinstance(value, str):
            self.refuse(where, "must be a string", value)
            return None
        if len(value) > MAX_NAME:
            self.problems.append(f"{where} is longer than {MAX_NAME} characters")
            return None
        return value

    def text(self, where: str, value: Any, limit: int, keep_end: bool = False) -> str | None:
        if not isinstance(value, str):
            self.refuse(where, "must be a string", value)
            return None
        if len(value) <= limit:
            return value
        return "…" + value[-limit:] if keep_end else value[:limit] + "…"

    def items(self, where: str, value: Any, limit: int) -> list[Any]:
        if not isinstance(value, list):
            self.refuse(where, "must be a list", value)
            return []
        if len(value) > limit:
            self.problems.append(f"{where} has {len(value)} entries; only the first {limit} are kept")
        return value[:limit]

    def mapping(self, where: str, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.refuse(where, "must be an object", value)
            return None
        return value

    def fields(
        self, where: str, source: dict[str, Any], checks: dict[str, Callable[[str, Any], Any]]
    ) -> dict[str, Any]:
        """The keys of `source` that `checks` knows and accepts, checked; absent keys stay absent."""
        kept = {}
        for key, check in checks.items():
            if key in source:
                value = check(f"{where}.{key}" if where else key, source[key])
                if value is not None:
                    kept[key] = value
        return kept

    # -- the documents ------------------------------------------------------------

    def address(self, value: Any) -> str:
        if isinstance(value, str) and is_address(value):
            return str(to_checksum_address(value))
        self.refuse("address", "is not an Ethereum address", value)
        return ""

    def flag(self, where: str, value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        self.refuse(where, "must be true or false", value)
        return None

    def counts(self, names: tuple[str, ...]) -> Callable[[str, Any], dict[str, int] | None]:
        def check(where: str, value: Any) -> dict[str, int] | None:
            found = self.mapping(where, value)
            if found is None:
                return None
            return self.fields(where, found, dict.fromkeys(names, self.count))

        return check

    def stats(self, where: str, value: Any) -> dict[str, Any] | None:
        found = self.mapping(where, value)
        if found is None:
            return None
        kept: dict[str, Any] = self.fields(where, found, dict.fromkeys(STATS_COUNTS, self.count))
        if "failed" in found:
            kept["failed"] = self.named_counts(f"{where}.failed", found["failed"])
        return kept

    def named_counts(self, where: str, value: Any) -> dict[str, int]:
        """{name: count}, e.g. failures by error code or memory by device."""
        kept = {}
        for name, number in list((self.mapping(where, value) or {}).items())[:MAX_CAPABILITIES]:
            checked = self.count(f"{where}[{shown(name)}]", number)
            if self.name(f"{where} key", name) is not None and checked is not None:
                kept[name] = checked
        return kept

    def runner(self, where: str, value: Any) -> dict[str, Any] | None:
        found = self.mapping(where, value)
        if found is None:
            return None
        kept = self.fields(
            where,
            found,
            {
                "id": self.name,
                "state": self.name,
                "restarts": self.count,
                "in_use": self.flag,
                "device": lambda w, v: None if v is None else self.name(w, v),
                "external": self.flag,
                "last_error": lambda w, v: self.text(w, v, MAX_ERROR),
                "log_tail": lambda w, v: self.text(w, v, MAX_LOG, keep_end=True),
            },
        )
        if "id" not in kept:
            self.problems.append(f"{where} has no id: left out")
            return None
        return kept

    def runners(self, where: str, value: Any) -> list[dict[str, Any]]:
        found = (self.runner(f"{where}[{i}]", r) for i, r in enumerate(self.items(where, value, MAX_RUNNERS)))
        return [runner for runner in found if runner is not None]

    def capability(self, where: str, value: Any) -> dict[str, Any] | None:
        found = self.mapping(where, value)
        if found is None:
            return None
        pipeline = self.name(f"{where}.pipeline", found.get("pipeline"))
        model_id = self.name(f"{where}.model_id", found.get("model_id"))
        if pipeline is None or model_id is None:
            return None
        checks: dict[str, Callable[[str, Any], Any]] = dict.fromkeys(CAPABILITY_COUNTS, self.count)
        checks |= {
            "warm": self.flag,
            "pixels_per_unit": lambda w, v: self.count(w, v, minimum=1),
            "runners": self.runners,
            "runner_states": self.counts(RUNNER_STATE_COUNTS),
            "stats": self.stats,
        }
        return {"pipeline": pipeline, "model_id": model_id, **self.fields(where, found, checks)}

    def info(self, value: Any) -> dict[str, Any]:
        found = self.mapping("/info", value)
        if found is None:
            return {"address": "", "capabilities": []}
        kept: dict[str, Any] = {"address": self.address(found.get("address"))}
        kept |= self.fields("", found, {"service_uri": self.name, "version": self.name})
        capabilities = (
            self.capability(f"capabilities[{i}]", c)
            for i, c in enumerate(self.items("capabilities", found.get("capabilities", []), MAX_CAPABILITIES))
        )
        kept["capabilities"] = [c for c in capabilities if c is not None]
        hardware = self.mapping("hardware", found["hardware"]) if "hardware" in found else None
        if hardware is not None and "devices" in hardware:
            kept["hardware"] = {"devices": self.named_counts("hardware.devices", hardware["devices"])}
        return kept

    def summary(self, document: str) -> str:
        if not self.problems:
            return ""
        listed = "; ".join(self.problems[:PROBLEMS_SHOWN])
        more = len(self.problems) - PROBLEMS_SHOWN
        return f"{document} had values this gateway cannot use, left out: {listed}" + (
            f"; and {more} more" if more > 0 else ""
        )


def checked_info(raw: Any) -> tuple[dict[str, Any], str]:
    """(/info as the gateway and dashboard keep it, the error naming what was left out or "")."""
    checker = Checker()
    return checker.info(raw), checker.summary("/info")


def checked_runners(raw: Any) -> tuple[list[dict[str, Any]], str]:
    """(/runners' list as the dashboard keeps it, the error naming what was left out or "")."""
    checker = Checker()
    return checker.runners("runners", raw), checker.summary("/runners")


def capabilities_of(info: Any) -> list[dict[str, Any]]:
    """The capabilities of a stored /info, checked again: rows an older dashboard stored hold anything."""
    return Checker().info(info)["capabilities"]


def runners_of(runners: Any) -> list[dict[str, Any]]:
    return Checker().runners("runners", runners)
