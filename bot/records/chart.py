"""The craving and mood chart, drawn on the server as SVG.

Server-side SVG needs no script (the dashboard's Content Security Policy allows none
inline, and a charting library would be one more thing to load and audit), looks the same
in the browser and in the PDF, and stays readable with no CSS at all: colours and dashes
are SVG presentation attributes, which the policy does not block.

The SVG is built with :mod:`xml.etree.ElementTree`, which escapes every text and attribute
value; what goes in is numbers, dates and our own labels, never patient text. Slips are drawn
as diamonds under the time axis with the substances from the bot's own list; the patient's
words for when stay out of the chart (the page lists them, escaped).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time, timedelta

from markupsafe import Markup

from bot.records.views import ChartData, ChartLapse, ChartPoint, format_day, format_time

__all__ = [
    "CRAVING_COLOR",
    "LAPSE_COLOR",
    "MOOD_COLOR",
    "SESSION_COLOR",
    "lapse_title",
    "render_chart",
]

CRAVING_COLOR = "#b03a2e"
MOOD_COLOR = "#1f5f99"
SESSION_COLOR = "#6c3f8f"
LAPSE_COLOR = "#a35200"
GRID_COLOR = "#d8d8d8"
TEXT_COLOR = "#404040"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
RATING_MAX = 10
#: Tick spacings in days, smallest first; the first that gives at most MAX_TICKS is used.
TICK_STEPS = (1, 2, 7, 14, 28, 56, 91, 182, 364)
MAX_TICKS = 7

_MARGIN_LEFT = 34
_MARGIN_RIGHT = 14
_MARGIN_TOP = 26
_MARGIN_BOTTOM = 58
#: Where a slip's diamond sits: this far below the time axis, between its labels and the legend.
_LAPSE_OFFSET = 27
_LAPSE_SIZE = 5


def _period(chart: ChartData) -> tuple[date, date]:
    days = [point.at.astimezone(UTC).date() for point in chart.points]
    days += list(chart.session_dates)
    days += [lapse.day for lapse in chart.lapses]
    start = chart.start or min(days)
    end = chart.end or max(days)
    return start, end


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _Plot:
    """Maps times and ratings to SVG coordinates."""

    def __init__(self, start: date, end: date, width: int, height: int) -> None:
        self.t0 = datetime.combine(start, time(0), UTC)
        self.t1 = datetime.combine(end + timedelta(days=1), time(0), UTC)
        self.left = _MARGIN_LEFT
        self.right = width - _MARGIN_RIGHT
        self.top = _MARGIN_TOP
        self.bottom = height - _MARGIN_BOTTOM

    def x(self, moment: datetime) -> float:
        span = (self.t1 - self.t0).total_seconds()
        share = (moment - self.t0).total_seconds() / span
        return self.left + min(max(share, 0.0), 1.0) * (self.right - self.left)

    def y(self, rating: float) -> float:
        return self.bottom - rating / RATING_MAX * (self.bottom - self.top)


def _sub(parent: ET.Element, tag: str, **attributes: str | float) -> ET.Element:
    element = ET.SubElement(parent, tag)
    for name, value in attributes.items():
        element.set(name.replace("_", "-"), _num(value) if isinstance(value, float) else str(value))
    return element


def _text(parent: ET.Element, x: float, y: float, content: str, **attributes: str) -> None:
    element = _sub(
        parent, "text", x=x, y=y, font_family=FONT, font_size="11", fill=TEXT_COLOR, **attributes
    )
    element.text = content


def _titled(parent: ET.Element, title: str) -> ET.Element:
    group = _sub(parent, "g")
    _sub(group, "title").text = title
    return group


def _grid(svg: ET.Element, plot: _Plot) -> None:
    grid = _sub(svg, "g", aria_hidden="true")
    for rating in range(0, RATING_MAX + 1, 2):
        y = plot.y(rating)
        _sub(grid, "line", x1=float(plot.left), x2=float(plot.right), y1=y, y2=y, stroke=GRID_COLOR)
        _text(grid, plot.left - 6, y + 4, str(rating), text_anchor="end")
    days = (plot.t1 - plot.t0).days
    step = next((s for s in TICK_STEPS if days / s <= MAX_TICKS), TICK_STEPS[-1])
    for offset in range(0, days + 1, step):
        moment = plot.t0 + timedelta(days=offset)
        x = plot.x(moment)
        _sub(grid, "line", x1=x, x2=x, y1=plot.bottom, y2=plot.bottom + 4.0, stroke=TEXT_COLOR)
        _text(grid, x, plot.bottom + 18, f"{moment.day} {moment:%b}", text_anchor="middle")
    _sub(
        grid,
        "line",
        x1=float(plot.left),
        x2=float(plot.right),
        y1=plot.bottom,
        y2=plot.bottom,
        stroke=TEXT_COLOR,
    )


def _day_line(
    group: ET.Element, plot: _Plot, x: float, color: str, *, width: str, dashes: str
) -> None:
    """A dashed vertical line through the plot marking one day (a session, a slip)."""
    _sub(
        group,
        "line",
        x1=x,
        x2=x,
        y1=float(plot.top),
        y2=plot.bottom,
        stroke=color,
        stroke_width=width,
        stroke_dasharray=dashes,
    )


def _sessions(svg: ET.Element, plot: _Plot, sessions: tuple[date, ...]) -> None:
    for day in sessions:
        x = plot.x(datetime.combine(day, time(12), UTC))
        group = _titled(svg, f"Ketamine session, {format_day(day)}")
        group.set("class", "chart-session")
        _day_line(group, plot, x, SESSION_COLOR, width="1.5", dashes="4 3")
        _sub(
            group,
            "path",
            d=f"M {_num(x - 5)} {plot.top - 12} L {_num(x + 5)} {plot.top - 12} "
            f"L {_num(x)} {plot.top - 3} Z",
            fill=SESSION_COLOR,
        )


def lapse_title(lapse: ChartLapse) -> str:
    """The slip's accessible name: "Slip, Tue 3 Mar 2026: alcohol — Slip reflection #5"."""
    when = format_day(lapse.day)
    if lapse.dated_by_entry:
        when = f"recorded {when} (day of the slip not given)"
    return f"Slip, {when}: {lapse.substances_text} — {lapse.label}"


def _lapses(svg: ET.Element, plot: _Plot, lapses: tuple[ChartLapse, ...]) -> None:
    for lapse in lapses:
        x = plot.x(datetime.combine(lapse.day, time(12), UTC))
        y = plot.bottom + _LAPSE_OFFSET
        group = _titled(svg, lapse_title(lapse))
        group.set("class", "chart-lapse")
        _day_line(group, plot, x, LAPSE_COLOR, width="1", dashes="1 3")
        size = _LAPSE_SIZE
        _sub(
            group,
            "path",
            d=f"M {_num(x)} {y - size} L {_num(x + size)} {y} L {_num(x)} {y + size} "
            f"L {_num(x - size)} {y} Z",
            fill=LAPSE_COLOR,
        )


def _series(
    svg: ET.Element, plot: _Plot, points: tuple[ChartPoint, ...], name: str, color: str
) -> None:
    rated = [(point, getattr(point, name)) for point in points if getattr(point, name) is not None]
    if not rated:
        return
    label = name.capitalize()
    if len(rated) > 1:
        _sub(
            svg,
            "polyline",
            points=" ".join(
                f"{_num(plot.x(point.at))},{_num(plot.y(value))}" for point, value in rated
            ),
            fill="none",
            stroke=color,
            stroke_width="2",
            stroke_linejoin="round",
            stroke_dasharray="none" if name == "craving" else "6 3",
        )
    for point, value in rated:
        x, y = plot.x(point.at), plot.y(value)
        group = _titled(svg, f"{label} {value}/10 — {point.label}, {format_time(point.at)}")
        group.set("class", f"chart-point chart-{name}")
        if name == "craving":
            _sub(group, "rect", x=x - 4, y=y - 4, width="8", height="8", fill=color)
        else:
            _sub(
                group, "circle", cx=x, cy=y, r="4.5", fill="#ffffff", stroke=color, stroke_width="2"
            )


def _legend(svg: ET.Element, plot: _Plot, height: int, *, lapses: bool) -> None:
    legend = _sub(svg, "g", aria_hidden="true")
    y = float(height - 14)
    x = float(plot.left)
    _sub(legend, "rect", x=x, y=y - 8, width="8", height="8", fill=CRAVING_COLOR)
    _text(legend, x + 14, y, "Craving (0–10)")
    x += 120
    _sub(legend, "circle", cx=x + 4, cy=y - 4, r="4.5", fill="#ffffff", stroke=MOOD_COLOR)
    _text(legend, x + 14, y, "Mood (0–10)")
    x += 110
    _sub(
        legend,
        "line",
        x1=x,
        x2=x,
        y1=y - 11,
        y2=y + 1,
        stroke=SESSION_COLOR,
        stroke_width="1.5",
        stroke_dasharray="4 3",
    )
    _text(legend, x + 8, y, "Ketamine session")
    if lapses:
        x += 140
        size = _LAPSE_SIZE
        _sub(
            legend,
            "path",
            d=f"M {_num(x)} {y - 4 - size} L {_num(x + size)} {y - 4} L {_num(x)} {y - 4 + size} "
            f"L {_num(x - size)} {y - 4} Z",
            fill=LAPSE_COLOR,
        )
        _text(legend, x + 10, y, "Slip")


def _description(chart: ChartData, start: date, end: date) -> str:
    parts = [f"From {format_day(start)} to {format_day(end)}."]
    for name in ("craving", "mood"):
        values = [getattr(p, name) for p in chart.points if getattr(p, name) is not None]
        if values:
            parts.append(
                f"{len(values)} {name} ratings, lowest {min(values)}, highest {max(values)}, "
                f"latest {values[-1]}."
            )
        else:
            parts.append(f"No {name} ratings.")
    if chart.session_dates:
        days = ", ".join(format_day(day) for day in chart.session_dates)
        parts.append(f"Ketamine sessions: {days}.")
    else:
        parts.append("No ketamine session dates recorded.")
    if chart.lapses:
        slips = "; ".join(
            f"{format_day(lapse.day)} ({lapse.substances_text})" for lapse in chart.lapses
        )
        count = len(chart.lapses)
        parts.append(f"{count} {'slip' if count == 1 else 'slips'}: {slips}.")
    return " ".join(parts)


def render_chart(chart: ChartData, *, width: int = 720, height: int = 280) -> Markup | None:
    """The chart as an ``<svg>`` element, or ``None`` when there is nothing to draw.

    Marking the result as safe HTML is sound because every string enters through
    ElementTree (``.text`` and attribute values), whose serialiser escapes ``&``, ``<``, ``>``
    and quotes; and the strings are dates, ratings, entry titles ("Check-in #3") and
    substance labels from the bot's own list, never text a patient wrote.
    """
    if chart.is_empty:
        return None
    start, end = _period(chart)
    plot = _Plot(start, end, width, height)
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "width": str(width),
            "height": str(height),
            "role": "img",
            "aria-labelledby": "trend-chart-title trend-chart-desc",
            "class": "trend-chart",
        },
    )
    title = _sub(svg, "title", id="trend-chart-title")
    title.text = "Craving and mood over time, with ketamine session dates" + (
        " and slips" if chart.lapses else ""
    )
    _sub(svg, "desc", id="trend-chart-desc").text = _description(chart, start, end)
    _grid(svg, plot)
    _sessions(svg, plot, chart.session_dates)
    _lapses(svg, plot, chart.lapses)
    _series(svg, plot, chart.points, "mood", MOOD_COLOR)
    _series(svg, plot, chart.points, "craving", CRAVING_COLOR)
    _legend(svg, plot, height, lapses=bool(chart.lapses))
    return Markup(ET.tostring(svg, encoding="unicode", short_empty_elements=True))
