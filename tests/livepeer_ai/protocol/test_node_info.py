"""The /info schema as the gateway reads a node's document: bad parts dropped and named where the node sent
them, good parts kept, unknown keys ignored, sizes and amounts bounded."""

from __future__ import annotations

from typing import Any

from livepeer_ai.protocol.node_info import MAX_AMOUNT, MAX_CAPABILITIES, checked_info, checked_runners

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def capability(**fields: Any) -> dict[str, Any]:
    return {"pipeline": "text-to-image", "model_id": "m", "capacity": 1, **fields}


def test_a_bad_capability_is_named_at_the_index_the_node_sent_and_the_others_are_kept() -> None:
    kept, error = checked_info(
        {"address": ADDRESS, "capabilities": ["x", capability(model_id=None), capability(model_id="kept")]}
    )
    assert [c["model_id"] for c in kept["capabilities"]] == ["kept"]
    assert "capabilities[0] must be an object, got 'x'" in error
    assert "capabilities[1].model_id must be a string, got None" in error
    assert "capabilities[2]" not in error


def test_a_runner_without_an_id_is_left_out_and_its_siblings_stay() -> None:
    kept, error = checked_info(
        {"capabilities": [capability(runners=[{"state": "ready"}, {"id": "r1", "restarts": "often"}])]}
    )
    assert kept["capabilities"][0]["runners"] == [{"id": "r1"}]
    assert "capabilities[0].runners[0] has no id: left out" in error
    assert "capabilities[0].runners[1].restarts must be a non-negative integer, got 'often'" in error


def test_amounts_are_integers_that_fit_a_uint256() -> None:
    kept, error = checked_info({"capabilities": [capability(price_per_unit=MAX_AMOUNT - 1, in_use=MAX_AMOUNT)]})
    assert kept["capabilities"][0]["price_per_unit"] == MAX_AMOUNT - 1
    assert "in_use" not in kept["capabilities"][0]
    assert "capabilities[0].in_use must be a non-negative integer" in error


def test_an_explicit_null_for_an_optional_part_is_refused_while_an_absent_one_stays_absent() -> None:
    kept, error = checked_info({"capabilities": [capability(stats=None)]})
    assert "stats" not in kept["capabilities"][0] and "runners" not in kept["capabilities"][0]
    assert "capabilities[0].stats must be an object, got None" in error


def test_the_address_is_checksummed_or_empty_and_unknown_keys_are_ignored() -> None:
    kept, error = checked_info({"address": ADDRESS.lower(), "capabilities": [], "newer_field": {"x": 1}})
    assert (kept, error) == ({"address": ADDRESS, "capabilities": []}, "")
    assert checked_info({"address": "", "capabilities": []}) == ({"address": "", "capabilities": []}, "")


def test_too_many_capabilities_are_cut_and_said() -> None:
    kept, error = checked_info({"capabilities": [capability()] * (MAX_CAPABILITIES + 3)})
    assert len(kept["capabilities"]) == MAX_CAPABILITIES
    assert f"capabilities has {MAX_CAPABILITIES + 3} entries; only the first {MAX_CAPABILITIES} are kept" in error


def test_named_counts_keep_their_good_entries() -> None:
    kept, error = checked_info({"capabilities": [], "hardware": {"devices": {"cpu": 0, "cuda:0": -1}}})
    assert kept["hardware"] == {"devices": {"cpu": 0}}
    assert "hardware.devices['cuda:0'] must be a non-negative integer, got -1" in error


def test_runners_cut_long_logs_at_their_end() -> None:
    (runner,), error = checked_runners([{"id": "r", "log_tail": "x" * 30_000 + "the end"}])
    assert error == "" and runner["log_tail"].endswith("the end") and len(runner["log_tail"]) == 20_001
