"""An orchestrator node's TOML configuration (the role of go-livepeer's aiModels.json).

[node]
service_uri = "http://127.0.0.1:8935"
port = 8935
private_key_env = "ORCH_KEY"          # or: keystore = "keys/o1.json" + keystore_password_env
runner_start_timeout_s = 180
health_interval_s = 5
registry_refresh_s = 5                # how stale the node's view of approved models may be

[devices]                             # memory budget per device in MiB (0 = no limit)
cpu = 0

[[capabilities]]
pipeline = "text-to-image"
model_id = "livepeer-ai/tiny-sdxl-turbo"
warm = true
price_per_unit = 4768371              # wei
pixels_per_unit = 1
runners = [{ device = "cpu", count = 2 }, { url = "http://10.0.0.5:8000", token = "" }]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from livepeer_ai.payments.ticket_value import DEFAULT_REDEEM_GAS, DEFAULT_TICKET_EV, TX_COST_MULTIPLIER

PIPELINES = {
    "text-to-image",
    "image-to-image",
    "image-to-video",
    "upscale",
    "frame-interpolation",
    "image-to-text",
    "audio-to-text",
    "llm",
    "text-to-speech",
    "segment-anything-2",
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class LocalRunners:
    device: str
    count: int


@dataclass(frozen=True)
class ExternalRunner:
    url: str
    token: str = ""


@dataclass(frozen=True)
class Capability:
    pipeline: str
    model_id: str
    warm: bool
    price_per_unit: int
    pixels_per_unit: int
    local: tuple[LocalRunners, ...] = ()
    external: tuple[ExternalRunner, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.pipeline, self.model_id)


@dataclass(frozen=True)
class NodeConfig:
    service_uri: str
    host: str
    port: int
    capabilities: tuple[Capability, ...]
    private_key_env: str = ""
    keystore: str = ""
    keystore_password_env: str = ""
    devices: dict[str, int] = field(default_factory=dict)
    runner_start_timeout_s: float = 180.0
    health_interval_s: float = 5.0
    # Health checks that may fail in a row before a runner is restarted
    # (go-livepeer destroys a container after 2, docs/protocol.md §1.5).
    max_health_failures: int = 2
    # How often the node re-reads which of its models the registry approves (only those are sold).
    registry_refresh_s: float = 5.0
    name: str = ""
    # [payments]: the recipient's ticket economics (docs/protocol.md §3.2); used on chain only.
    ticket_ev: int = DEFAULT_TICKET_EV
    redeem_gas: int = DEFAULT_REDEEM_GAS
    tx_cost_multiplier: int = TX_COST_MULTIPLIER


class _Table(BaseModel):
    """A TOML table: strict types (no "8935" for 8935, no true for 1), and no unknown keys (a typo is named)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Runner(_Table):
    device: str = "cpu"
    count: int = Field(1, ge=1)
    url: str = ""
    token: str = ""

    @model_validator(mode="after")
    def _local_or_external(self) -> _Runner:
        external = self.model_fields_set & {"url", "token"}
        if external and self.model_fields_set & {"device", "count"}:
            raise ValueError("a runner is local (device, count) or external (url, token), not both")
        if external and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"an external runner needs an http(s) url, got {self.url!r}")
        return self


class _Capability(_Table):
    pipeline: str
    model_id: str
    warm: bool = True
    price_per_unit: int = Field(0, ge=0)
    pixels_per_unit: int = Field(1, ge=1)
    runners: list[_Runner] = Field([], validate_default=True)

    @field_validator("pipeline")
    @classmethod
    def _known(cls, pipeline: str) -> str:
        if pipeline not in PIPELINES:
            raise ValueError(f"unknown pipeline {pipeline!r}; known: {', '.join(sorted(PIPELINES))}")
        return pipeline

    @field_validator("runners")
    @classmethod
    def _some(cls, runners: list[_Runner]) -> list[_Runner]:
        if not runners:
            raise ValueError("needs at least one runner (local device/count or external url)")
        return runners


class _Node(_Table):
    name: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8935, ge=1, le=65535)
    service_uri: str = ""
    private_key_env: str = ""
    keystore: str = ""
    keystore_password_env: str = ""
    runner_start_timeout_s: float = Field(180.0, gt=0)
    health_interval_s: float = Field(5.0, gt=0)
    max_health_failures: int = Field(2, ge=1)
    registry_refresh_s: float = Field(5.0, ge=0)


class _Payments(_Table):
    ticket_ev: int = Field(NodeConfig.ticket_ev, ge=1)
    redeem_gas: int = Field(NodeConfig.redeem_gas, ge=1)
    tx_cost_multiplier: int = Field(NodeConfig.tx_cost_multiplier, ge=1)


class _File(_Table):
    node: _Node = _Node()
    devices: dict[str, int] = {"cpu": 0}
    capabilities: list[_Capability] = []
    payments: _Payments = _Payments()


# What a key must be, in the words its error gives (a missing or wrongly typed key names itself).
_MUST_BE = {
    "port": "1-65535",
    "price_per_unit": "a non-negative integer (wei)",
    "pixels_per_unit": "a positive integer",
    "count": "a positive integer",
    "runner_start_timeout_s": "> 0 (seconds)",
    "health_interval_s": "> 0 (seconds)",
    "registry_refresh_s": ">= 0 (seconds)",
    "max_health_failures": "an integer >= 1",
    "ticket_ev": "a positive integer",
    "redeem_gas": "a positive integer",
    "tx_cost_multiplier": "a positive integer",
}


def _message(error: Any) -> str:
    """One pydantic error as `where: key ...`, `where` written as in the file (capabilities[1].runners[0])."""
    *path, last = error["loc"] or ("",)
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    if isinstance(last, int):
        where, last = f"{where}[{last}]", ""
    where = {"": "config", "node": "node"}.get(where, where)
    if error["type"] == "missing":
        return f"{where}: missing {last!r}"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key {last!r}"
    if last in _MUST_BE:
        return f"{where}: {last} must be {_MUST_BE[last]}, got {error['input']!r}"
    if error["type"] == "model_type":
        return f'{where}: must be a table like {{ device = "cpu", count = 1 }} or {{ url = ... }}'
    reason = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {last} {reason}" if last and error["type"] != "value_error" else f"{where}: {reason}"


def parse_config(raw: dict[str, Any]) -> NodeConfig:
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("; ".join(_message(e) for e in exc.errors())) from None
    node = parsed.node
    if not parsed.capabilities:
        raise ConfigError("at least one [[capabilities]] entry is required")
    capabilities = tuple(
        Capability(
            pipeline=c.pipeline,
            model_id=c.model_id,
            warm=c.warm,
            price_per_unit=c.price_per_unit,
            pixels_per_unit=c.pixels_per_unit,
            local=tuple(LocalRunners(r.device, r.count) for r in c.runners if not r.url),
            external=tuple(ExternalRunner(r.url.rstrip("/"), r.token) for r in c.runners if r.url),
        )
        for c in parsed.capabilities
    )
    seen: set[tuple[str, str]] = set()
    for capability in capabilities:
        if capability.key in seen:
            raise ConfigError(f"capability {capability.key} is listed twice")
        seen.add(capability.key)
    if not node.private_key_env and not node.keystore:
        raise ConfigError("node: set private_key_env or keystore (the node's Ethereum identity)")
    return NodeConfig(
        name=node.name,
        service_uri=(node.service_uri or f"http://{node.host}:{node.port}").rstrip("/"),
        host=node.host,
        port=node.port,
        capabilities=capabilities,
        private_key_env=node.private_key_env,
        keystore=node.keystore,
        keystore_password_env=node.keystore_password_env,
        devices=dict(parsed.devices),
        runner_start_timeout_s=node.runner_start_timeout_s,
        health_interval_s=node.health_interval_s,
        max_health_failures=node.max_health_failures,
        registry_refresh_s=node.registry_refresh_s,
        ticket_ev=parsed.payments.ticket_ev,
        redeem_gas=parsed.payments.redeem_gas,
        tx_cost_multiplier=parsed.payments.tx_cost_multiplier,
    )


def load_config(path: Path) -> NodeConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw)
