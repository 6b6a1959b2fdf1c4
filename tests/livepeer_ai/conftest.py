"""Runners for the pipelines that write text, started only by the tests that use them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RunnerFleet, health, start_runner, wait_for

# name → (pipeline, model_id), beside the suite's image and video runners (tests/conftest.py RUNNERS).
TEXT_RUNNERS: dict[str, tuple[str, str]] = {
    "image-to-text": ("image-to-text", "livepeer-ai/tiny-blip-captioning"),
    "audio-to-text": ("audio-to-text", "livepeer-ai/tiny-whisper"),
}


@pytest.fixture(scope="session")
def text_runners(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerFleet]:
    log_dir = tmp_path_factory.mktemp("text-runner-logs")
    fleet = RunnerFleet()
    try:
        for name, (pipeline, model) in TEXT_RUNNERS.items():
            fleet.processes[name] = start_runner(name, pipeline, model, stack_env, log_dir)
        for process in fleet.processes.values():
            wait_for(
                lambda p=process: p.proc.poll() is not None or health(p.url) == "IDLE",
                180,
                f"{process.name} to load\n{process.log_tail()}",
                interval=0.25,
            )
            assert process.proc.poll() is None, f"{process.name} exited:\n{process.log_tail()}"
        yield fleet
    finally:
        for process in fleet.processes.values():
            process.stop()
