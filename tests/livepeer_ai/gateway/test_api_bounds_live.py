"""The web process under abuse, for real: a daphne process takes each hostile body and lives.

A segfault or a body read without bound cannot be caught inside the process that
suffers it, so these drive a real daphne (tests/processes.py) over loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import HTTP

pytestmark = pytest.mark.integration

MB = 1024 * 1024


def test_json_nested_100000_deep_is_refused_and_daphne_lives(live_api):
    # 200 KB: once, py_ecc's recursion limit of 100,000 let json.loads overflow the C stack.
    response = HTTP.post(
        f"{live_api.url}/api/v1/text-to-image",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**live_api.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_too_deep"
    live_api.assert_alive()


def test_a_visitors_deeply_nested_receipt_is_refused_and_daphne_lives(live_api):
    with httpx.Client(base_url=live_api.url, timeout=30) as client:
        client.get("/receipts/verify/")
        response = client.post(
            "/receipts/verify/",
            data={"csrfmiddlewaretoken": client.cookies["csrftoken"]},
            files={"receipt_file": ("receipt.json", b"[" * 65_536, "application/json")},
        )
    assert response.status_code == 400
    assert "nest at most 32 levels" in response.text
    live_api.assert_alive()


def chunked_form(
    files: dict[str, tuple[str, bytes, str]], size: int = MB, **fields: str
) -> tuple[Iterator[bytes], str]:
    """A well-formed multipart body that httpx sends chunked (no Content-Length), and its Content-Type.

    Well-formed, because daphne's Twisted parses a multipart body itself and answers
    a malformed one with its own empty 400 before the app sees it.
    """
    form = httpx.Request("POST", "http://form", files=files, data=fields)
    body = form.read()
    return (body[i : i + size] for i in range(0, len(body), size)), form.headers["Content-Type"]


def test_a_chunked_upload_over_50_mb_is_413_with_the_limit(live_api):
    """It once got a 422 "video: Field required": Django, with no length, saw an empty form."""
    content, content_type = chunked_form({"video": ("big.gif", b"G" * (60 * MB), "image/gif")}, multiplier="2")
    response = HTTP.post(
        f"{live_api.url}/api/v1/frame-interpolation",
        content=content,
        headers={**live_api.headers, "Content-Type": content_type},
        timeout=120,
    )
    assert response.status_code == 413
    assert response.json() == {"detail": {"msg": "Request body is over the 50 MB limit."}}
    live_api.assert_alive()


def test_a_chunked_upload_under_the_limit_is_read_as_sent(live_api):
    """Without its length Django once parsed it as an empty form: "image: Field required"."""
    content, content_type = chunked_form({"image": ("notes.txt", b"not an image at all", "text/plain")}, 7, fps="6")
    response = HTTP.post(
        f"{live_api.url}/api/v1/image-to-video",
        content=content,
        headers={**live_api.headers, "Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == 415, response.text
    assert "not a supported image" in response.json()["detail"]["msg"]


def test_a_3_mb_json_body_is_413_in_the_api_shape(live_api):
    response = HTTP.post(
        f"{live_api.url}/api/v1/text-to-image",
        content=b'{"prompt": "' + b"x" * (3 * MB) + b'"}',
        headers={**live_api.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert "at most 1024 KiB" in response.json()["detail"]["msg"]


def test_a_malformed_multipart_body_gets_the_api_shape_not_twisteds_empty_400(live_api):
    response = HTTP.post(
        f"{live_api.url}/api/v1/frame-interpolation",
        content=b"--xyz--\r\n",
        headers={**live_api.headers, "Content-Type": "multipart/form-data; boundary=xyz"},
        timeout=30,
    )
    assert response.headers["Content-Type"] == "application/json", (response.status_code, response.text)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "video"]
