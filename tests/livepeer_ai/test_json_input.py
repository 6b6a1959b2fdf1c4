"""JSON from outside: depth counted before parsing, numbers finite, text valid; the recursion limit kept sane."""

from __future__ import annotations

import json
import subprocess

import pytest

from livepeer_ai import json_input
from livepeer_ai.json_input import MAX_DEPTH, JsonRefused, nested_deeper_than
from tests.conftest import PYTHON, ROOT


def refusal(raw: str | bytes) -> str:
    with pytest.raises(JsonRefused) as caught:
        json_input.loads(raw)
    return caught.value.kind


def test_depth_is_exact_at_the_limit():
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert json_input.loads(at_limit) == json.loads(at_limit)
    assert refusal("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)) == "json_too_deep"
    objects = '{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
    assert refusal(objects) == "json_too_deep"


def test_brackets_inside_strings_do_not_count_and_cannot_hide_nesting():
    # Escaped quotes and backslashes must not end a string early or late.
    shallow = json.dumps({"prompt": "[" * 100 + '\\"[[[' + "]" * 7, "loras": ["\\", "[[[["]})
    assert json_input.loads(shallow)["prompt"].startswith("[[[")
    # Strings that would pair with real brackets ("]" after each "[") if they were counted.
    hidden = "".join('["]", ' for _ in range(MAX_DEPTH + 1)) + "1" + "".join(', "["]' for _ in range(MAX_DEPTH + 1))
    assert json.loads(hidden)  # valid JSON, MAX_DEPTH + 1 deep
    assert refusal(hidden) == "json_too_deep"


def test_a_deep_document_is_refused_in_milliseconds_not_parsed():
    assert nested_deeper_than("[" * 1_000_000, MAX_DEPTH)
    assert not nested_deeper_than("[]" * 500_000, MAX_DEPTH)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_numbers_must_be_finite(number):
    assert refusal('{"guidance_scale": %s}' % number) == "finite_number"  # noqa: UP031


def test_lone_surrogates_are_refused_in_values_and_keys():
    assert refusal('{"prompt": "\\ud800"}') == "string_unicode"
    assert refusal('{"\\udfff": 1}') == "string_unicode"
    assert json_input.loads('{"prompt": "\\ud83d\\ude00"}') == {"prompt": "\U0001f600"}  # a pair is text


@pytest.mark.parametrize("raw", [b'{"a": "\xff"}', b'{"a": ', "9" * 5000])
def test_undecodable_input_is_json_invalid(raw):
    assert refusal(raw) == "json_invalid"


APP_LOADED = """
import json, os, sys, threading
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
from livepeer_ai.asgi import application  # the web process's own entry point: Django set up, URLs loaded
assert "py_ecc" in sys.modules, "the payment code should have loaded py_ecc"
print("limit", sys.getrecursionlimit())

def parse():
    try:
        json.loads("[" * 100_000)
    except RecursionError:
        print("RecursionError")

worker = threading.Thread(target=parse)  # as a request is served: on a worker thread's stack
worker.start()
worker.join()
"""


@pytest.mark.integration
def test_the_recursion_limit_is_sane_once_the_app_has_loaded():
    """py_ecc raises it to 100,000; at that, plain json.loads of 100,000 `[` overflowed the C stack (SIGSEGV)."""
    result = subprocess.run([PYTHON, "-W", "ignore", "-c", APP_LOADED], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-2000:]}"
    assert result.stdout.split() == ["limit", str(json_input.RECURSION_LIMIT), "RecursionError"]


def test_a_nul_character_is_refused_in_input_and_taken_out_of_answers():
    from livepeer_ai.json_input import JsonRefused, loads, storable

    # PostgreSQL's text and jsonb cannot hold U+0000: a prompt with one was a 500 there.
    with pytest.raises(JsonRefused, match="NUL"):
        loads('{"prompt": "a\\u0000b"}')
    with pytest.raises(JsonRefused, match="NUL"):
        loads('{"messages": [{"role": "user", "content": "x\\u0000"}]}')
    answer = {"text": "a\x00b", "chunks": [{"timestamp": [0.0, 1.0], "text": "\x00c"}], "n": 1}
    assert storable(answer) == {"text": "ab", "chunks": [{"timestamp": [0.0, 1.0], "text": "c"}], "n": 1}
