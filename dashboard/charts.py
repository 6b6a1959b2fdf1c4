"""Charts as inline SVG rendered on the server: no JavaScript, no CDN.

Each chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>`,
every bar or point carries a `<title>` with its exact value (a tooltip, and
what a screen reader reads), and the pages put a table of the same numbers
beside it. Bar heights are scaled with integer arithmetic, so amounts of wei
never pass through a float; only pixel positions are fractional.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#36d399", "#60a5fa", "#fbbf24", "#f472b6", "#a78bfa", "#f87171")
AXIS = "#a9b1c1"
# viewBox sizes: a bar chart sits in a column of about 30 rem, a line chart spans a card.
BAR_WIDTH = 480
LINE_WIDTH = 800
HEIGHT = 200
TOP, BOTTOM, LEFT, RIGHT = 22, 28, 8, 8
# Pixels of the plot area that can take a bar's height.
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Point:
    label: str
    value: int
    text: str  # the value as people read it, e.g. "0.0012 ETH"


def scaled(value: int, largest: int, span: int = PLOT_HEIGHT) -> int:
    """value / largest of `span` pixels, in integers (largest ≥ 1)."""
    return max(0, value) * span // max(largest, 1)


def _labels(labels: Sequence[str], slot: float, width: int) -> str:
    """At most about eight x-axis labels, evenly spaced, always the first and the last."""
    count = len(labels)
    step = max(1, -(-count // (width // 80)))
    shown = sorted({*range(0, count, step), count - 1}) if count else []
    return "".join(
        format_html(
            '<text x="{}" y="{}" fill="{}" font-size="11" text-anchor="middle">{}</text>',
            f"{LEFT + slot * (index + 0.5):.1f}",
            HEIGHT - 10,
            AXIS,
            labels[index],
        )
        for index in shown
    )


def _frame(chart_id: str, title: str, description: str, body: str, width: int) -> SafeString:
    return format_html(
        '<svg id="{id}" class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-labelledby="{id}-title {id}-desc" preserveAspectRatio="xMidYMid meet">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="{axis}" stroke-width="1"/>{body}</svg>',
        id=chart_id,
        w=width,
        h=HEIGHT,
        title=title,
        desc=description,
        left=LEFT,
        right=width - RIGHT,
        base=HEIGHT - BOTTOM,
        axis=AXIS,
        body=mark_safe(body),  # noqa: S308 - built only from format_html pieces above
    )


def bar_chart(chart_id: str, title: str, description: str, points: Sequence[Point]) -> SafeString:
    largest = max((p.value for p in points), default=0)
    slot = (BAR_WIDTH - LEFT - RIGHT) / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        height = scaled(point.value, largest)
        # A non-zero amount always shows, however small beside the largest.
        if point.value > 0 and height == 0:
            height = 1
        bars.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" data-value="{}"><title>{}: {}</title></rect>',
                f"{LEFT + slot * index + slot * 0.1:.1f}",
                HEIGHT - BOTTOM - height,
                f"{slot * 0.8:.1f}",
                height,
                PALETTE[0],
                point.value,
                point.label,
                point.text,
            )
        )
    peak = max(points, key=lambda p: p.value, default=None)
    caption = (
        format_html(
            '<text x="{}" y="{}" fill="{}" font-size="11" text-anchor="end">max {}</text>',
            BAR_WIDTH - RIGHT,
            TOP - 8,
            AXIS,
            peak.text,
        )
        if peak is not None and peak.value > 0
        else ""
    )
    labels = _labels([p.label for p in points], slot, BAR_WIDTH)
    return _frame(chart_id, title, description, "".join(bars) + caption + labels, BAR_WIDTH)


def line_chart(
    chart_id: str, title: str, description: str, labels: Sequence[str], series: Mapping[str, Sequence[int]]
) -> SafeString:
    """One line per series over shared x labels, with a legend along the top."""
    largest = max((v for values in series.values() for v in values), default=0)
    slot = (LINE_WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    parts = []
    for number, (name, values) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        coordinates = [
            (LEFT + slot * (index + 0.5), HEIGHT - BOTTOM - scaled(value, largest))
            for index, value in enumerate(values)
        ]
        parts.append(
            format_html(
                '<polyline fill="none" stroke="{}" stroke-width="2" points="{}" data-series="{}"/>',
                colour,
                " ".join(f"{x:.1f},{y}" for x, y in coordinates),
                name,
            )
        )
        parts.extend(
            format_html(
                '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{}, {}: {}</title></circle>',
                f"{x:.1f}",
                y,
                colour,
                name,
                labels[index],
                values[index],
            )
            for index, (x, y) in enumerate(coordinates)
        )
        parts.append(
            format_html(
                '<text x="{}" y="{}" fill="{}" font-size="11">{}</text>',
                LEFT + 4 + number * 125,
                TOP - 8,
                colour,
                name,
            )
        )
    return _frame(chart_id, title, description, "".join(parts) + _labels(labels, slot, LINE_WIDTH), LINE_WIDTH)


def legend_colour(index: int) -> str:
    return escape(PALETTE[index % len(PALETTE)])
