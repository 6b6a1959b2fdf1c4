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

PIPELINES = {"text-to-image", "image-to-image", "image-to-video", "upscale", "frame-interpolation"}


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
    ticket_ev: int = 8_000_000_000
    redeem_gas: int = 1_200_000
    tx_cost_multiplier: int = 100


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ConfigError(f"{where}: missing {key!r}")
    value = table[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _capability(raw: dict[str, Any], index: int) -> Capability:
    where = f"capabilities[{index}]"
    pipeline = _require(raw, "pipeline", str, where)
    if pipeline not in PIPELINES:
        raise ConfigError(f"{where}: unknown pipeline {pipeline!r}; known: {', '.join(sorted(PIPELINES))}")
    price = raw.get("price_per_unit", 0)
    pixels = raw.get("pixels_per_unit", 1)
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise ConfigError(f"{where}: price_per_unit must be a non-negative integer (wei), got {price!r}")
    if not isinstance(pixels, int) or isinstance(pixels, bool) or pixels < 1:
        raise ConfigError(f"{where}: pixels_per_unit must be a positive integer, got {pixels!r}")
    local, external = [], []
    for r_index, runner in enumerate(raw.get("runners", [])):
        r_where = f"{where}.runners[{r_index}]"
        if not isinstance(runner, dict):
            raise ConfigError(f'{r_where}: must be a table like {{ device = "cpu", count = 1 }} or {{ url = ... }}')
        if "url" in runner:
            external.append(
                ExternalRunner(
                    url=_require(runner, "url", str, r_where).rstrip("/"), token=str(runner.get("token", ""))
                )
            )
        else:
            count = runner.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ConfigError(f"{r_where}: count must be a positive integer, got {count!r}")
            local.append(LocalRunners(device=str(runner.get("device", "cpu")), count=count))
    if not local and not external:
        raise ConfigError(f"{where}: needs at least one runner (local device/count or external url)")
    return Capability(
        pipeline=pipeline,
        model_id=_require(raw, "model_id", str, where),
        warm=bool(raw.get("warm", True)),
        price_per_unit=price,
        pixels_per_unit=pixels,
        local=tuple(local),
        external=tuple(external),
    )


def parse_config(raw: dict[str, Any]) -> NodeConfig:
    node = raw.get("node", {})
    port = node.get("port", 8935)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError(f"node: port must be 1-65535, got {port!r}")
    capabilities = tuple(_capability(c, i) for i, c in enumerate(raw.get("capabilities", [])))
    if not capabilities:
        raise ConfigError("at least one [[capabilities]] entry is required")
    seen: set[tuple[str, str]] = set()
    for capability in capabilities:
        if capability.key in seen:
            raise ConfigError(f"capability {capability.key} is listed twice")
        seen.add(capability.key)
    if not node.get("private_key_env") and not node.get("keystore"):
        raise ConfigError("node: set private_key_env or keystore (the node's Ethereum identity)")
    devices = raw.get("devices", {"cpu": 0})
    host = str(node.get("host", "127.0.0.1"))
    try:
        budgets = {str(k): int(v) for k, v in devices.items()}
        start_timeout = float(node.get("runner_start_timeout_s", 180))
        health_interval = float(node.get("health_interval_s", 5))
        max_failures = int(node.get("max_health_failures", 2))
        registry_refresh = float(node.get("registry_refresh_s", 5))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"[node]/[devices]: expected numbers: {exc}") from None
    payments = raw.get("payments", {})
    economics = {}
    for key in ("ticket_ev", "redeem_gas", "tx_cost_multiplier"):
        if key in payments:
            value = payments[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"[payments] {key} must be a positive integer, got {value!r}")
            economics[key] = value
    if start_timeout <= 0 or health_interval <= 0 or max_failures < 1:
        raise ConfigError("node: runner_start_timeout_s and health_interval_s must be > 0, max_health_failures >= 1")
    if registry_refresh < 0:
        raise ConfigError(f"node: registry_refresh_s must be >= 0 (seconds), got {registry_refresh!r}")
    return NodeConfig(
        name=str(node.get("name", "")),
        service_uri=str(node.get("service_uri", f"http://{host}:{port}")).rstrip("/"),
        host=host,
        port=port,
        capabilities=capabilities,
        private_key_env=str(node.get("private_key_env", "")),
        keystore=str(node.get("keystore", "")),
        keystore_password_env=str(node.get("keystore_password_env", "")),
        devices=budgets,
        runner_start_timeout_s=start_timeout,
        health_interval_s=health_interval,
        max_health_failures=max_failures,
        registry_refresh_s=registry_refresh,
        **economics,
    )


def load_config(path: Path) -> NodeConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw)
