"""The node sells segment-anything-2: billed the input's pixels (a video's every frame), measured from
the upload before payment; refusals cost nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import HTTP, RUNNERS, orchestrator_node
from tests.livepeer_ai.orchestrator.test_text_jobs import stats
from tests.livepeer_ai.runner.test_pipelines_http import png
from tests.livepeer_ai.runner.test_segment_anything_2_route import gif

PRICE = 3
PIPELINE = "segment-anything-2"


@pytest.fixture(scope="module")
def node_url(runners: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pipeline, model = RUNNERS[PIPELINE]
    offers = [(pipeline, model, runners.url(PIPELINE))]
    with orchestrator_node({}, tmp_path_factory.mktemp("node-logs"), price_per_unit=PRICE, offers=offers) as url:
        yield url


def post(url: str, filename: str, media: bytes, **fields: str) -> httpx.Response:
    return HTTP.post(f"{url}/{PIPELINE}", data=fields, files={"image": (filename, media)}, timeout=120)


def test_an_image_is_billed_its_pixels_and_answers_masks_without_receipts(node_url):
    before = stats(node_url, PIPELINE)
    response = post(node_url, "in.png", png(40, 30), point_coords="[[10, 10]]", point_labels="[1]")
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(json.loads(body["masks"])) == 3
    assert body["receipts"] == []  # no media to sign for
    after = stats(node_url, PIPELINE)
    assert after["units"] - before["units"] == 40 * 30
    assert after["fees_wei"] - before["fees_wei"] == 40 * 30 * PRICE


def test_a_video_is_billed_every_frames_pixels(node_url):
    before = stats(node_url, PIPELINE)
    response = post(node_url, "in.gif", gif(frames=3, width=32, height=24), box="[2, 2, 20, 20]")
    assert response.status_code == 200, response.text
    assert response.json()["frames"] == 3
    assert stats(node_url, PIPELINE)["units"] - before["units"] == 32 * 24 * 3


@pytest.mark.parametrize(
    ("filename", "media", "fields", "status"),
    [
        ("a.txt", b"not a picture", {}, 415),
        ("in.png", png(40, 30), {"point_coords": "[[10, 10], [5]]", "point_labels": "[1, 1]"}, 400),
    ],
    ids=["not an image", "malformed point_coords"],
)
def test_refusals_are_not_charged(node_url, filename, media, fields, status):
    before = stats(node_url, PIPELINE)
    response = post(node_url, filename, media, **fields)
    assert response.status_code == status, response.text
    after = stats(node_url, PIPELINE)
    assert (after["units"], after["fees_wei"], after["served"]) == (
        before["units"],
        before["fees_wei"],
        before["served"],
    )
