from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh process has imported once Django is set up and `code` has run."""
    script = (
        "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'livepeer_ai.settings'); "
        f"django.setup(); {code}; print(','.join(m for m in {modules!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    last_line = (result.stdout.strip().splitlines() or [""])[-1]
    return [name for name in last_line.split(",") if name]


ML = ("torch", "diffusers", "transformers")


@pytest.mark.integration
def test_web_and_worker_code_never_import_torch():
    # DESIGN: torch and diffusers load only in runners; web, engine and worker stay small.
    code = (
        "import livepeer_ai.asgi, livepeer_ai.urls, livepeer_ai.gateway.engine, livepeer_ai.gateway.workflow, "
        "livepeer_ai.runner.client, studio.views, studio.consumers"
    )
    assert loaded_after(code, ML) == []


@pytest.mark.integration
def test_a_frame_interpolation_runner_loads_without_torch_diffusers_or_transformers():
    # Its optical flow is OpenCV's: importing diffusers would add seconds to its start for nothing.
    code = (
        "from livepeer_ai.runner.app import create_app; from livepeer_ai.pipelines.base import ModelSpec; "
        "from livepeer_ai.pipelines.loader import load_pipeline; "
        "spec = ModelSpec('frame-interpolation', 'opencv/dis-flow', 'optical-flow', ''); "
        "create_app(spec); load_pipeline(spec)"
    )
    assert loaded_after(code, ML) == []


@pytest.mark.integration
def test_setting_django_up_imports_no_chain_client():
    # Every process sets Django up (runners, nodes, management commands); web3 and eth_account cost
    # about a second of CPU to import, so only the code that signs or pays imports them.
    assert loaded_after("pass", ("web3", "eth_account")) == []


@pytest.mark.integration
def test_setting_django_up_imports_no_web_server():
    # Nor does it import daphne's server and Twisted (0.4 s): only the web process, daphne itself, needs them.
    assert loaded_after("pass", ("daphne.server", "twisted")) == []


@pytest.mark.integration
def test_a_runner_process_never_imports_the_sites_urls(stack_env):
    # Django's system checks import the URL conf (every view, the chain client): a service skips them.
    args = ["run_runner", "--pipeline", "frame-interpolation", "--model", "nobody/nothing"]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "manage.py", *args],
        cwd=ROOT,
        env=stack_env,
        capture_output=True,
        text=True,
    )
    # It got as far as reading the registry, which has no such model.
    assert result.returncode != 0 and "nobody/nothing" in result.stderr, result.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "livepeer_ai.urls" not in imported and "web3" not in imported
