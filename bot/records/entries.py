"""Journal entries as the dashboard shows them: every field labelled, in question order, the
current safety plan, and the ratings, session dates and slips of the mood and craving chart.

Pure functions of the entries already read (no database here); patient text stays a plain
string, and the chart's data carries none but the patient's words for when a slip happened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from bot.journal import safety_plan
from bot.journal.entries import entry_view
from bot.journal.lapse_details import (
    LAPSE_DATE_FIELD,
    LAPSE_WHEN_FIELD,
    SUBSTANCES_FIELD,
    known_substances,
    lapse_date_of,
    substance_label,
)
from bot.journal.replies import entry_title
from bot.journal.schema import (
    FIELD_KEYS,
    RATING_KEYS,
    STAFF_LABELS,
    URGE_SURFING_KEYS,
    VALUE_LABELS,
)
from bot.records.views import (
    ChartData,
    ChartLapse,
    ChartPoint,
    Entry,
    Field,
    Filters,
    PlanStep,
    SafetyPlan,
    format_day,
    search_segments,
)
from bot.storage.models import JournalEntry


def entry_of(entry: JournalEntry, query: str) -> Entry:
    """The entry with every field labelled, in question order, ``query`` marked in its text."""
    known = FIELD_KEYS.get(entry.kind, ())
    keys = [key for key in known if key in entry.fields]
    keys += [key for key in entry.fields if key not in keys]
    built = [_field(key, entry.fields[key], query) for key in keys]
    return Entry(
        number=entry.number,
        kind=entry.kind,
        title=_title(entry),
        status=entry.status,
        created_at=entry.created_at,
        session_date=entry.session_date,
        mood=entry.mood,
        craving=entry.craving,
        fields=tuple(item for item, _ in built),
        matches=any(found for _, found in built),
    )


def safety_plan_of(entries: Sequence[JournalEntry]) -> SafetyPlan | None:
    """The current safety plan: the newest safety plan among ``entries`` (newest first), as
    :func:`bot.journal.safety_plan.current_plan` reads it for the chat."""
    for entry in entries:
        if entry.kind != safety_plan.KIND:
            continue
        steps = safety_plan.plan_steps(entry.fields)
        if not steps:
            return None
        return SafetyPlan(
            number=entry.number,
            created_at=entry.created_at,
            status=entry.status,
            steps=tuple(
                PlanStep(
                    number=safety_plan.STEP_KEYS.index(key) + 1,
                    key=key,
                    label=_label(key),
                    text=text,
                )
                for key, text in steps.items()
            ),
        )
    return None


def _value_text(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value_text(key, item) for item in value) or "none named"
    if isinstance(value, str):
        if key in VALUE_LABELS:
            return VALUE_LABELS[key].get(value, value)
        if key == SUBSTANCES_FIELD:
            return substance_label(value)
        if key == LAPSE_DATE_FIELD:
            day = lapse_date_of({LAPSE_DATE_FIELD: value})
            return format_day(day) if day is not None else value
        return value
    if isinstance(value, int) and key in RATING_KEYS:
        return f"{value}/10"
    return json.dumps(value, ensure_ascii=False)


def _label(key: str) -> str:
    return STAFF_LABELS.get(key) or key.replace("_", " ").capitalize()


def _field(key: str, value: Any, query: str) -> tuple[Field, bool]:
    if isinstance(value, Mapping):
        order = [k for k in URGE_SURFING_KEYS if k in value] if key == "urge_surfing" else []
        order += [k for k in value if k not in order]
        parts = [_field(str(k), value[k], query) for k in order]
        return (
            Field(key=key, label=_label(key), parts=tuple(part for part, _ in parts)),
            any(found for _, found in parts),
        )
    text = _value_text(key, value)
    segments, found = search_segments(text, query)
    return Field(key=key, label=_label(key), text=text, segments=segments), found


def _title(entry: JournalEntry) -> str:
    """The entry's name as the patient saw it in the chat ("Check-in", "Slip reflection")."""
    return entry_title(entry_view(entry))


# ----------------------------------------------------------------------------- the chart


def chart_of(entries: Sequence[JournalEntry], filters: Filters) -> ChartData:
    """The chart's ratings, session dates and slips within the filters' date range."""
    points = []
    sessions: set[date] = set()
    lapses = []
    for entry in entries:
        if entry.session_date is not None and _day_in(entry.session_date, filters):
            sessions.add(entry.session_date)
        lapse = lapse_of(entry)
        if lapse is not None and _day_in(lapse.day, filters):
            lapses.append(lapse)
        if (entry.mood is None and entry.craving is None) or not filters.in_period(
            entry.created_at
        ):
            continue
        points.append(
            ChartPoint(
                at=entry.created_at,
                mood=entry.mood,
                craving=entry.craving,
                label=f"{_title(entry)} #{entry.number}",
            )
        )
    points.sort(key=lambda point: point.at)
    lapses.sort(key=lambda lapse: (lapse.day, lapse.number))
    return ChartData(
        points=tuple(points),
        session_dates=tuple(sorted(sessions)),
        start=filters.start,
        end=filters.end,
        lapses=tuple(lapses),
    )


def lapse_of(entry: JournalEntry) -> ChartLapse | None:
    """The slip an entry records, for the chart; ``None`` for any other entry."""
    fields = entry.fields
    if entry.kind != "trigger" or fields.get("trigger_kind") != "lapse":
        return None
    day = lapse_date_of(fields)
    stored = fields.get(SUBSTANCES_FIELD)
    known = set(known_substances())
    names = stored if isinstance(stored, list) else []
    when = fields.get(LAPSE_WHEN_FIELD)
    return ChartLapse(
        day=day if day is not None else entry.created_at.astimezone(UTC).date(),
        number=entry.number,
        label=f"{_title(entry)} #{entry.number}",
        substances=tuple(substance_label(n) for n in names if isinstance(n, str) and n in known),
        when_text=when.strip() if isinstance(when, str) and when.strip() else None,
        dated_by_entry=day is None,
    )


def _day_in(day: date, filters: Filters) -> bool:
    return filters.in_period(datetime.combine(day, time(12), filters.zone))
