"""Server-side SVG charts: accessible, exact values, integer scaling of wei."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from dashboard.charts import PLOT_HEIGHT, Point, bar_chart, line_chart, scaled
from livepeer_ai.payments.amounts import readable

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_a_bar_chart_is_labelled_and_carries_every_exact_value():
    huge = 2**200
    points = [
        Point("Nov 1", 0, "0 ETH"),
        Point("Nov 2", huge, readable(huge)),
        Point("Nov 3", huge // 2, readable(huge // 2)),
    ]
    root = parse(str(bar_chart("chart-test", "EV <received>", "EV per day", points)))
    assert root.get("role") == "img" and root.get("aria-labelledby") == "chart-test-title chart-test-desc"
    assert root.find(f"{SVG}title").text == "EV <received>"  # escaped in the markup, intact when read
    bars = root.findall(f"{SVG}rect")
    assert [int(bar.get("data-value")) for bar in bars] == [0, huge, huge // 2]
    assert [int(bar.get("height")) for bar in bars] == [0, PLOT_HEIGHT, PLOT_HEIGHT // 2]
    assert bars[1].find(f"{SVG}title").text == f"Nov 2: {readable(huge)}"


def test_a_tiny_amount_beside_a_huge_one_still_shows():
    root = parse(str(bar_chart("c", "t", "d", [Point("a", 1, "1 wei"), Point("b", 10**30, "big")])))
    assert int(root.findall(f"{SVG}rect")[0].get("height")) == 1


def test_scaling_is_integer_arithmetic():
    assert scaled(2**255, 2**256, 150) == 75
    assert scaled(0, 0) == 0 and scaled(-5, 10) == 0


def test_a_line_chart_draws_one_labelled_line_per_series():
    svg = str(
        line_chart("jobs", "Jobs", "per day", ["d1", "d2", "d3"], {"text-to-image": [1, 4, 2], "upscale": [0, 0, 4]})
    )
    root = parse(svg)
    lines = root.findall(f"{SVG}polyline")
    assert [line.get("data-series") for line in lines] == ["text-to-image", "upscale"]
    points = [tuple(map(float, p.split(","))) for p in lines[0].get("points").split()]
    assert len(points) == 3 and points[1][1] < points[2][1] < points[0][1]  # 4 highest, 1 lowest
    assert [c.find(f"{SVG}title").text for c in root.findall(f"{SVG}circle")][:3] == [
        "text-to-image, d1: 1",
        "text-to-image, d2: 4",
        "text-to-image, d3: 2",
    ]
    assert re.search(r"<text[^>]*>upscale</text>", svg)
