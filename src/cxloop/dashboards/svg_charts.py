"""Charts for the PDF report, drawn on the server as SVG (WeasyPrint renders
SVG itself; no browser in the worker): lines for trends, horizontal bars for
bars, rankings, topic impact and rising phrases. The same rows as the
widget's table, which the report keeps under each chart.

Every label is escaped; text uses the CJK fonts the PDF uses, so Chinese
unit and topic names print.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from cxloop.dashboards.schemas import TIME_GRAINS, Widget

WIDTH = 640
PALETTE = ("#0b5fcc", "#e8710a", "#2e7d46", "#b3261e", "#7b3fbf", "#00838f")
FONT = "Noto Sans CJK SC, Noto Sans CJK, WenQuanYi Micro Hei, sans-serif"
MAX_BARS = 20
MAX_SERIES = 6
BAR_VALUE = {"topic_impact": ("topic", "impact"), "rising_phrases": ("phrase", "growth_points")}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _label(row: dict[str, Any], group: str | None) -> str:
    if group is None:
        return ""
    if group == "unit" or group.startswith("unit_level:"):
        return str(row.get("unit_name") or row.get("unit_code") or "–")
    value = row.get(group)
    return "–" if value is None else str(value)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.1f}"


def _ticks(low: float, high: float) -> list[float]:
    """About five round steps covering low..high."""
    if high <= low:
        high = low + 1
    raw = (high - low) / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 0.001:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _svg(height: int, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" font-size="11">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#1f2933") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(text[:40])}</text>'


def bars_svg(items: Sequence[tuple[str, float]]) -> str:
    """Horizontal bars, top to bottom in the given order; negative values to the left of zero."""
    items = list(items)[:MAX_BARS]
    row_height, top, left, right = 22, 10, 170, 50
    height = top * 2 + row_height * len(items) + 18
    values = [v for _, v in items]
    ticks = _ticks(min(0.0, *values), max(0.0, *values))
    low, high = ticks[0], ticks[-1]
    span = high - low or 1.0

    def x_of(value: float) -> float:
        return left + (value - low) / span * (WIDTH - left - right)

    zero = x_of(0.0)
    body = []
    bottom = top + row_height * len(items)
    for tick in ticks:
        x = x_of(tick)
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#e4e7eb"/>')
        body.append(_text(x, bottom + 14, _fmt(tick), "middle", "#616e7c"))
    for index, (label, value) in enumerate(items):
        y = top + index * row_height
        start, end = sorted((zero, x_of(value)))
        colour = "#b3261e" if value < 0 else PALETTE[0]
        body.append(
            f'<rect x="{start:.1f}" y="{y + 4}" width="{max(end - start, 0.5):.1f}" '
            f'height="{row_height - 8}" fill="{colour}"/>'
        )
        body.append(_text(left - 6, y + row_height / 2 + 4, label, "end"))
        body.append(
            _text(
                end + 4 if value >= 0 else start - 4,
                y + row_height / 2 + 4,
                _fmt(value),
                "start" if value >= 0 else "end",
                "#616e7c",
            )
        )
    body.append(f'<line x1="{zero:.1f}" y1="{top}" x2="{zero:.1f}" y2="{bottom}" stroke="#616e7c"/>')
    return _svg(height, body)


def lines_svg(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]) -> str:
    """One line per series over the categories (time periods), with a legend."""
    series = list(series)[:MAX_SERIES]
    height, top, left, right, bottom_pad = 240, 28, 48, 36, 40
    values = [v for _, vs in series for v in vs if v is not None]
    ticks = _ticks(min(values), max(values)) if values else [0.0, 1.0]
    low, high = ticks[0], ticks[-1]
    span = high - low or 1.0
    bottom = height - bottom_pad
    step = (WIDTH - left - right) / max(len(categories) - 1, 1)

    def point(index: int, value: float) -> tuple[float, float]:
        x = left + index * step if len(categories) > 1 else (WIDTH + left - right) / 2
        return x, bottom - (value - low) / span * (bottom - top)

    body = []
    for tick in ticks:
        _, y = point(0, tick)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#e4e7eb"/>')
        body.append(_text(left - 6, y + 4, _fmt(tick), "end", "#616e7c"))
    every = max(1, math.ceil(len(categories) / 12))
    for index, category in enumerate(categories):
        if index % every == 0:
            x, _ = point(index, low)
            body.append(_text(x, bottom + 16, category, "middle", "#616e7c"))
    for number, (name, points) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        path = [point(i, v) for i, v in enumerate(points) if v is not None]
        if len(path) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in path)
            body.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        body.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in path)
        lx = left + number * 100
        body.append(f'<rect x="{lx}" y="6" width="10" height="10" fill="{colour}"/>')
        body.append(_text(lx + 14, 15, name[:14]))
    return _svg(height, body)


def chart_svg(widget: Widget, rows: Sequence[dict[str, Any]]) -> str | None:
    """The widget's chart, or None for types the report shows as a table only."""
    if not rows or (widget.query is None and widget.type not in BAR_VALUE):
        return None
    groups = list(widget.query.group_by) if widget.query else []
    metrics = list(widget.query.metrics) if widget.query else []
    if widget.type in BAR_VALUE:
        label_field, value_field = BAR_VALUE[widget.type]
        items = [(str(r.get(label_field) or "–"), _number(r.get(value_field))) for r in rows]
        present = [(label, value) for label, value in items if value is not None]
        return bars_svg(present) if present else None
    if widget.type in ("bar", "ranking") and groups and metrics:
        items = [(_label(r, groups[0]), _number(r.get(metrics[0]))) for r in rows]
        present = [(label, value) for label, value in items if value is not None]
        if widget.type == "ranking":
            present.sort(key=lambda item: -item[1])
        return bars_svg(present) if present else None
    if widget.type in ("trend", "topic_trend"):
        grain = next((g for g in groups if g in TIME_GRAINS), None)
        if grain is None:
            return None
        categories = sorted({str(r.get(grain)) for r in rows if r.get(grain) is not None})
        if widget.type == "topic_trend":
            fields = ["mentions"]

            def key_of(row: dict[str, Any]) -> str:
                return str(row.get("topic"))
        else:
            fields = metrics
            split = next((g for g in groups if g != grain), None)

            def key_of(row: dict[str, Any]) -> str:
                return _label(row, split)

        keys = sorted({key_of(r) for r in rows})
        series: list[tuple[str, list[float | None]]] = []
        for field in fields:
            for key in keys:
                points = {str(r.get(grain)): _number(r.get(field)) for r in rows if key_of(r) == key}
                name = key if widget.type == "topic_trend" else f"{field} {key}".strip()
                series.append((name, [points.get(c) for c in categories]))
        return lines_svg(categories, series) if categories else None
    return None
