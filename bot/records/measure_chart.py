"""Validated measures over time, drawn on the server as SVG: one small chart per measure.

Each measure has its own scale (PHQ-9 0 to 27, GAD-7 0 to 21, AUDIT-C 0 to 12) and its own
severity bands, so each gets its own chart with the band boundaries as grid lines, rather than
one shared axis that would flatten the smaller ones. Like the craving and mood chart
(:mod:`bot.records.chart`), the SVG needs no script, reads the same in the browser and the PDF,
and is built with :mod:`xml.etree.ElementTree` from numbers, dates and our own labels only.
A PHQ-9 with item 9 above 0 is drawn as a filled red marker, whatever its total.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from markupsafe import Markup

from bot.journal import measures
from bot.journal.measure_records import ResultView
from bot.records.views import format_time

__all__ = ["render_measure_charts"]

LINE_COLOR = "#1f5f99"
SAFETY_COLOR = "#b03a2e"
GRID_COLOR = "#d8d8d8"
TEXT_COLOR = "#404040"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 34, 12, 22, 24


def _x(when: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds()
    share = 0.5 if span <= 0 else (when - start).total_seconds() / span
    return LEFT + share * (WIDTH - LEFT - RIGHT)


def _y(value: float, top: int) -> float:
    return TOP + (1 - value / top) * (HEIGHT - TOP - BOTTOM)


def _chart(instrument: measures.Measure, results: Sequence[ResultView], zone: tzinfo = UTC) -> str:
    top = instrument.max_total
    svg = ET.Element(
        "svg",
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        role="img",
        width=str(WIDTH),
        height=str(HEIGHT),
    )
    latest = results[-1]
    title = ET.SubElement(svg, "title")
    title.text = (
        f"{instrument.short}: {len(results)} result{'s' if len(results) != 1 else ''}, "
        f"latest {latest.total} of {top} ({latest.band}) on {format_time(latest.completed_at, zone)}"
    )
    heading = ET.SubElement(svg, "text", x=str(LEFT), y="14", fill=TEXT_COLOR)
    heading.set("font-family", FONT)
    heading.set("font-size", "12")
    heading.text = f"{instrument.short} (0–{top})"
    for value in sorted({0, top, *(band.low for band in instrument.bands if band.low)}):
        y = f"{_y(value, top):.1f}"
        ET.SubElement(
            svg, "line", x1=str(LEFT), x2=str(WIDTH - RIGHT), y1=y, y2=y, stroke=GRID_COLOR
        )
        label = ET.SubElement(svg, "text", x=str(LEFT - 4), y=y, fill=TEXT_COLOR)
        label.set("font-family", FONT)
        label.set("font-size", "9")
        label.set("text-anchor", "end")
        label.set("dominant-baseline", "middle")
        label.text = str(value)
    start, end = results[0].completed_at, results[-1].completed_at
    points = [(_x(r.completed_at, start, end), _y(r.total, top), r) for r in results]
    if len(points) > 1:
        ET.SubElement(
            svg,
            "polyline",
            points=" ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points),
            fill="none",
            stroke=LINE_COLOR,
        ).set("stroke-width", "2")
    for x, y, result in points:
        marker = ET.SubElement(
            svg,
            "circle",
            cx=f"{x:.1f}",
            cy=f"{y:.1f}",
            r="4",
            fill=SAFETY_COLOR if result.safety_item_positive else "#ffffff",
            stroke=SAFETY_COLOR if result.safety_item_positive else LINE_COLOR,
        )
        marker.set("stroke-width", "2")
        note = ET.SubElement(marker, "title")
        note.text = (
            f"{format_time(result.completed_at, zone)}: {result.total} of {top}, {result.band}"
            + (" · item 9 above 0" if result.safety_item_positive else "")
        )
    for when, anchor in ((start, "start"), (end, "end")):
        label = ET.SubElement(
            svg, "text", x=f"{_x(when, start, end):.1f}", y=str(HEIGHT - 6), fill=TEXT_COLOR
        )
        label.set("font-family", FONT)
        label.set("font-size", "9")
        label.set("text-anchor", anchor if start != end else "middle")
        label.text = when.astimezone(zone).strftime("%-d %b")
        if start == end:
            break
    return ET.tostring(svg, encoding="unicode")


def render_measure_charts(
    results: Sequence[ResultView], zone: tzinfo = UTC
) -> list[tuple[str, Markup]]:
    """One chart per measure answered at least once, in the order measures are listed, its
    times in ``zone`` (the clinic's)."""
    charts = []
    for measure_id, instrument in measures.measures().items():
        own = [result for result in results if result.measure == measure_id]
        if own:
            charts.append((instrument.short, Markup(_chart(instrument, own, zone))))
    return charts
