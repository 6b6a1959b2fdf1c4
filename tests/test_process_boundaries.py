from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.integration
def test_web_and_worker_code_never_import_torch():
    # DESIGN: torch and diffusers load only in runners; web, engine and worker stay small.
    script = (
        "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'livepeer_ai.settings'); "
        "django.setup(); "
        "import livepeer_ai.asgi, livepeer_ai.urls, livepeer_ai.gateway.engine, livepeer_ai.gateway.workflow, "
        "livepeer_ai.runner.client, studio.views, studio.consumers; "
        "loaded = sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules); "
        "print(','.join(loaded)); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"loaded: {result.stdout.strip()} {result.stderr[-2000:]}"
