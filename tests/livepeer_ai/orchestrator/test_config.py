"""The orchestrator's TOML config, its identity, and the units/fee rule (no processes, no DB)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from livepeer_ai.orchestrator.config import (
    Capability,
    ConfigError,
    ExternalRunner,
    LocalRunners,
    load_config,
    parse_config,
)
from livepeer_ai.orchestrator.identity import load_identity
from livepeer_ai.protocol.units import fee_wei, units_for

TEST_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TEST_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

FULL: dict[str, Any] = {
    "node": {
        "service_uri": "http://orch.example:9000/",
        "port": 9000,
        "private_key_env": "ORCH_KEY",
        "runner_start_timeout_s": 30,
        "health_interval_s": 1,
        "name": "o1",
    },
    "devices": {"cpu": 4000, "cuda:0": 24000},
    "capabilities": [
        {
            "pipeline": "text-to-image",
            "model_id": "livepeer-ai/tiny-sdxl-turbo",
            "warm": False,
            "price_per_unit": 4768371,
            "pixels_per_unit": 3,
            "runners": [{"device": "cpu", "count": 2}, {"url": "http://10.0.0.5:8000/", "token": "s3cret"}],
        },
        {
            "pipeline": "image-to-video",
            "model_id": "livepeer-ai/tiny-svd-xt",
            "runners": [{"device": "cuda:0"}],
        },
    ],
}


def minimal(**node: Any) -> dict[str, Any]:
    return {
        "node": {"private_key_env": "ORCH_KEY", **node},
        "capabilities": [{"pipeline": "text-to-image", "model_id": "m", "runners": [{"device": "cpu"}]}],
    }


def with_capability(**changes: Any) -> dict[str, Any]:
    raw = minimal()
    raw["capabilities"][0].update(changes)
    return raw


def test_a_full_config_parses_every_field() -> None:
    config = parse_config(copy.deepcopy(FULL))

    assert config.service_uri == "http://orch.example:9000"
    assert config.port == 9000
    assert config.host == "127.0.0.1"
    assert config.private_key_env == "ORCH_KEY"
    assert config.runner_start_timeout_s == 30.0
    assert config.health_interval_s == 1.0
    assert config.max_health_failures == 2
    assert config.name == "o1"
    assert config.devices == {"cpu": 4000, "cuda:0": 24000}
    t2i, i2v = config.capabilities
    assert t2i == Capability(
        pipeline="text-to-image",
        model_id="livepeer-ai/tiny-sdxl-turbo",
        warm=False,
        price_per_unit=4768371,
        pixels_per_unit=3,
        local=(LocalRunners(device="cpu", count=2),),
        external=(ExternalRunner(url="http://10.0.0.5:8000", token="s3cret"),),
    )
    assert t2i.key == ("text-to-image", "livepeer-ai/tiny-sdxl-turbo")
    assert i2v.local == (LocalRunners(device="cuda:0", count=1),)
    assert i2v.external == ()


def test_defaults_fill_in_price_units_warmth_and_service_uri() -> None:
    config = parse_config(minimal(host="0.0.0.0", port=8940))

    (capability,) = config.capabilities
    assert capability.pixels_per_unit == 1
    assert capability.price_per_unit == 0
    assert capability.warm is True
    assert config.service_uri == "http://0.0.0.0:8940"
    assert config.devices == {"cpu": 0}
    assert config.runner_start_timeout_s == 180.0
    assert config.health_interval_s == 5.0


def test_default_port_is_8935() -> None:
    config = parse_config(minimal())

    assert config.port == 8935
    assert config.service_uri == "http://127.0.0.1:8935"


def test_keystore_is_an_identity_too() -> None:
    raw = minimal()
    raw["node"] = {"keystore": "keys/o1.json", "keystore_password_env": "PW"}

    config = parse_config(raw)

    assert (config.keystore, config.keystore_password_env, config.private_key_env) == ("keys/o1.json", "PW", "")


def test_load_config_reads_toml(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        """
[node]
port = 8999
private_key_env = "K"

[[capabilities]]
pipeline = "upscale"
model_id = "livepeer-ai/tiny-sd-x4-upscaler"
price_per_unit = 7
runners = [{ device = "cpu", count = 3 }]
"""
    )

    config = load_config(path)

    assert config.port == 8999
    assert config.capabilities[0].key == ("upscale", "livepeer-ai/tiny-sd-x4-upscaler")
    assert config.capabilities[0].price_per_unit == 7
    assert config.capabilities[0].local == (LocalRunners(device="cpu", count=3),)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (with_capability(pipeline="live-video-to-video"), "unknown pipeline 'live-video-to-video'"),
        (
            {"node": {"private_key_env": "K"}, "capabilities": [{"pipeline": "upscale", "runners": [{}]}]},
            "missing 'model_id'",
        ),
        (with_capability(price_per_unit=-1), "price_per_unit must be a non-negative integer"),
        (with_capability(price_per_unit=1.5), "price_per_unit must be a non-negative integer"),
        (with_capability(price_per_unit=True), "price_per_unit must be a non-negative integer"),
        (with_capability(pixels_per_unit=0), "pixels_per_unit must be a positive integer"),
        (with_capability(runners=[{"device": "cpu", "count": 0}]), "count must be a positive integer"),
        (with_capability(runners=[]), "needs at least one runner"),
        (
            {"node": {"private_key_env": "K"}, "capabilities": [{"pipeline": "upscale", "model_id": "m"}]},
            "needs at least one runner",
        ),
        (minimal(port=0), "port must be 1-65535"),
        (minimal(port=70000), "port must be 1-65535"),
        (minimal(port="8935"), "port must be 1-65535"),
        ({"node": {"private_key_env": "K"}}, "at least one [[capabilities]]"),
        ({"node": {"private_key_env": "K"}, "capabilities": []}, "at least one [[capabilities]]"),
    ],
    ids=[
        "unknown-pipeline",
        "missing-model-id",
        "negative-price",
        "float-price",
        "bool-price",
        "zero-pixels-per-unit",
        "zero-runner-count",
        "empty-runners",
        "no-runners-key",
        "port-zero",
        "port-too-big",
        "port-string",
        "no-capabilities",
        "empty-capabilities",
    ],
)
def test_invalid_config_is_refused_with_a_clear_message(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(raw)

    assert message in str(raised.value)


def test_an_error_names_the_capability_it_is_in() -> None:
    raw = minimal()
    raw["capabilities"].append({"pipeline": "upscale", "model_id": "u", "price_per_unit": -5, "runners": [{}]})

    with pytest.raises(ConfigError, match=r"^capabilities\[1\]: price_per_unit"):
        parse_config(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (minimal(health_interval=5), "node: unknown key 'health_interval'"),
        (with_capability(price_per_units=5), "capabilities[0]: unknown key 'price_per_units'"),
        ({**minimal(), "payment": {"ticket_ev": 1}}, "config: unknown key 'payment'"),
        (
            with_capability(runners=[{"device": "cpu"}, {"url": "http://x", "count": 2}]),
            "capabilities[0].runners[1]: a runner is local (device, count) or external (url, token), not both",
        ),
        (with_capability(runners=[{"device": "cpu", "count": "2"}]), "capabilities[0].runners[0]: count must be"),
        (with_capability(runners=[{"url": ""}]), "capabilities[0].runners[0]: an external runner needs an http(s) url"),
        (with_capability(runners=[{"token": "t"}]), "an external runner needs an http(s) url, got ''"),
        ({**minimal(), "payments": {"ticket_ev": 0}}, "payments: ticket_ev must be a positive integer, got 0"),
    ],
    ids=[
        "node-typo",
        "capability-typo",
        "table-typo",
        "local-and-external",
        "runner-count-text",
        "empty-url",
        "token-without-url",
        "zero-ticket-ev",
    ],
)
def test_an_error_names_the_key_where_it_is(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(raw)

    assert message in str(raised.value)


def test_every_error_in_the_file_is_reported_at_once() -> None:
    raw = minimal(port=0, health_interval_s=-1)

    with pytest.raises(ConfigError) as raised:
        parse_config(raw)

    assert "node: port must be 1-65535, got 0" in str(raised.value)
    assert "node: health_interval_s must be > 0 (seconds), got -1" in str(raised.value)


def test_a_capability_listed_twice_is_refused() -> None:
    raw = minimal()
    raw["capabilities"].append({"pipeline": "text-to-image", "model_id": "m", "runners": [{"url": "http://x"}]})

    with pytest.raises(ConfigError, match=r"\('text-to-image', 'm'\) is listed twice"):
        parse_config(raw)


def test_the_same_model_under_two_pipelines_is_not_a_duplicate() -> None:
    raw = minimal()
    raw["capabilities"].append({"pipeline": "image-to-image", "model_id": "m", "runners": [{"device": "cpu"}]})

    assert [c.key for c in parse_config(raw).capabilities] == [("text-to-image", "m"), ("image-to-image", "m")]


def test_a_node_without_identity_is_refused() -> None:
    raw = minimal()
    raw["node"] = {"port": 9000}

    with pytest.raises(ConfigError, match="set private_key_env or keystore"):
        parse_config(raw)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[node]\nport = = 1\n[[capabilities]\npipeline = "x"\n')

    with pytest.raises(ConfigError, match="not valid TOML") as raised:
        load_config(path)

    assert str(path) in str(raised.value)


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigError, match="does not exist") as raised:
        load_config(path)

    assert str(path) in str(raised.value)


# -- identity ------------------------------------------------------------------


def test_identity_from_a_private_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_KEY", TEST_KEY)

    account = load_identity(parse_config(minimal()))

    assert account.address == TEST_ADDRESS


def test_an_unset_private_key_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCH_KEY", raising=False)

    with pytest.raises(ConfigError, match="ORCH_KEY .*is not set"):
        load_identity(parse_config(minimal()))


@pytest.mark.parametrize(
    "bad_key",
    ["0x1234", TEST_KEY[:-1], TEST_KEY + "0", "0x" + "zz" * 32],
    ids=["short", "one-digit-short", "one-digit-long", "not-hex"],
)
def test_a_malformed_private_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch, bad_key: str) -> None:
    # eth_account would pad a key one digit short into another identity.
    monkeypatch.setenv("ORCH_KEY", bad_key)

    with pytest.raises(ConfigError, match="must be 32 bytes of hex"):
        load_identity(parse_config(minimal()))


def keystore_config(tmp_path: Path, password: str) -> Path:
    path = tmp_path / "o1.json"
    # The fewest scrypt rounds: the default 2**18 costs about a second to write and again to read.
    path.write_text(json.dumps(Account.encrypt(TEST_KEY, password, iterations=2)))
    return path


def test_identity_from_a_keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keystore_config(tmp_path, "pw")
    monkeypatch.setenv("ORCH_KEYSTORE_PW", "pw")
    config = parse_config({**minimal(), "node": {"keystore": str(path), "keystore_password_env": "ORCH_KEYSTORE_PW"}})

    account = load_identity(config)

    assert account.address == TEST_ADDRESS


def test_a_keystore_with_the_wrong_password_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keystore_config(tmp_path, "pw")
    monkeypatch.setenv("ORCH_KEYSTORE_PW", "not-the-password")
    config = parse_config({**minimal(), "node": {"keystore": str(path), "keystore_password_env": "ORCH_KEYSTORE_PW"}})

    with pytest.raises(ConfigError, match="cannot decrypt") as raised:
        load_identity(config)

    assert str(path) in str(raised.value)


def test_a_missing_keystore_file_is_a_config_error(tmp_path: Path) -> None:
    config = parse_config({**minimal(), "node": {"keystore": str(tmp_path / "absent.json")}})

    with pytest.raises(ConfigError, match="does not exist"):
        load_identity(config)


# -- units and fee -------------------------------------------------------------


def test_text_to_image_bills_every_generated_pixel() -> None:
    assert units_for("text-to-image", {"width": 64, "height": 64, "num_images_per_prompt": 2}) == 8192


def test_text_to_image_defaults_are_the_runners_defaults() -> None:
    assert units_for("text-to-image", {"prompt": "a cat"}) == 1024 * 576


def test_image_to_video_bills_25_frames_whatever_was_asked() -> None:
    assert units_for("image-to-video", {"width": 64, "height": 32, "num_frames": 4}) == 64 * 32 * 25


def test_upscale_bills_the_input_size() -> None:
    assert units_for("upscale", {"prompt": "sharper"}, input_size=(40, 30)) == 1200


def test_image_to_image_bills_input_size_times_images() -> None:
    assert units_for("image-to-image", {"num_images_per_prompt": "3"}, input_size=(40, 30)) == 3600


def test_frame_interpolation_bills_every_output_frame() -> None:
    assert units_for("frame-interpolation", {"multiplier": 3}, input_size=(10, 8), input_frames=5) == 10 * 8 * 13
    assert units_for("frame-interpolation", {}, input_size=(10, 8), input_frames=5) == 10 * 8 * 9


def test_image_to_text_bills_the_input_pixels() -> None:
    assert units_for("image-to-text", {"prompt": "a photo of"}, input_size=(40, 30)) == 1200


def test_audio_to_text_bills_milliseconds_of_audio_whatever_the_fields() -> None:
    assert units_for("audio-to-text", {"return_timestamps": "word"}, input_ms=2_345) == 2_345
    assert units_for("audio-to-text", {}, input_size=(40, 30), input_ms=7) == 7


def test_segment_anything_2_bills_the_input_pixels_and_a_videos_every_frame() -> None:
    assert units_for("segment-anything-2", {"point_coords": "[[1, 2]]"}, input_size=(40, 30)) == 1200
    assert units_for("segment-anything-2", {}, input_size=(40, 30), input_frames=5) == 1200 * 5


def test_llm_bills_max_tokens_or_the_runners_default() -> None:
    # docs/protocol.md §2.4: the most tokens the answer may have, known before it is written.
    assert units_for("llm", {"messages": [], "max_tokens": 64}) == 64
    assert units_for("llm", {"messages": []}) == 256


def test_text_to_speech_bills_the_texts_characters_as_go_livepeer_counts_them() -> None:
    # docs/protocol.md §2.4: Go's len(text), the UTF-8 bytes: known before the speech is made.
    assert units_for("text-to-speech", {"text": "Hello there", "description": "a calm voice"}) == 11
    assert units_for("text-to-speech", {"text": "café 語"}) == 9
    assert units_for("text-to-speech", {}) == 0
    assert units_for("text-to-speech", {"text": 12345}) == 0  # not text: refused by the runner (422)


def test_unknown_pipeline_has_no_units() -> None:
    with pytest.raises(ValueError, match="unknown pipeline"):
        units_for("live-video-to-video", {})


def test_fee_is_units_times_price_over_pixels_rounded_up() -> None:
    assert fee_wei(3, 1, 2) == 2
    assert fee_wei(4096, 3, 2) == 6144
    assert fee_wei(10, 4768371, 1) == 47683710
    assert fee_wei(0, 5, 1) == 0


@pytest.mark.parametrize(
    ("node_overrides", "runners", "message"),
    [
        ({"port": True}, [{}], "port"),
        ({"runner_start_timeout_s": "x"}, [{}], "runner_start_timeout_s must be > 0"),
        ({"health_interval_s": 0}, [{}], "must be > 0"),
        ({}, ["cpu"], "must be a table"),
    ],
    ids=["bool-port", "text-timeout", "zero-interval", "runner-not-a-table"],
)
def test_bad_node_values_are_config_errors(node_overrides, runners, message):
    raw = {
        "node": {"private_key_env": "K", **node_overrides},
        "capabilities": [{"pipeline": "text-to-image", "model_id": "m", "runners": runners}],
    }
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)
