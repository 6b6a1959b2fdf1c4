"""The public API against its own OpenAPI document: schemathesis generates requests from it, valid and not,
follows its links (a 202's request id to the job routes), and checks every answer.

Against a real daphne (no nodes, no engine: accepted jobs stay queued), with a fixed
seed and a few examples per operation, so a run is the same each time and takes
about a minute here. Checked: no 5xx, every status and content type documented,
every body and event matching its schema, schema-violating requests refused.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.conftest import PYTHON

pytestmark = pytest.mark.integration

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
EXAMPLES_PER_OPERATION = 8


def test_every_answer_of_the_public_api_matches_its_openapi_document(live_api, tmp_path):
    command = [
        PYTHON,
        "-m",
        "schemathesis.cli",
        "run",
        f"{live_api.url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {live_api.key}",
        # Answer 202 at once: a synchronous request would wait for a node that never comes.
        "--header",
        "Prefer: respond-async",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "30",
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    print(f"schemathesis: {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, report[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report[-3000:]
    generated, passed = map(int, counts.groups())
    assert generated == passed and generated > 100, report[-3000:]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report[-3000:]
    live_api.assert_alive()
