"""The entry a journal form's answers make, built from the schema (:mod:`bot.journal.schema`).

Each field of the kind takes the answer of its slot: as typed, as a 0 to 10 rating, or as read
by its reader (:data:`READERS`: a date, a list of categories). Fields that no question asks
for (a trigger entry's kind, a slip's details) are told by the action that saves the entry.

Pure functions: no database, no Rasa.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.journal.parsing import SKIPPED, parse_halt, parse_trigger_types
from bot.journal.schema import COLUMNS, FIELD_KEYS, URGE_SURFING, Field, kind


@dataclass(frozen=True)
class EntryDraft:
    """Arguments for :func:`bot.journal.entries.save_entry`, built from a form's answered
    slots. Its attributes besides ``kind`` and ``fields`` are the schema's :data:`COLUMNS`."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    mood: int | None = None
    craving: int | None = None
    session_date: date | None = None


def rating_value(value: Any) -> int | None:
    """A validated rating slot as an int (``None`` if absent or skipped)."""
    if value is None or value == SKIPPED:
        return None
    return int(value)


def _session_day(value: str) -> date | None:
    """The session date slot holds the day as ISO 8601 (actions/integration.py)."""
    return date.fromisoformat(value) if value else None


#: How the answer of each ``parsed`` field of the schema is read, by field key.
READERS: dict[str, Callable[[str], Any]] = {
    "session_date": _session_day,
    "trigger_types": parse_trigger_types,
    "halt": parse_halt,
}


def stored_value(one: Field, answer: Any) -> Any:
    """What field ``one`` keeps of its slot's answer."""
    if one.rating:
        return rating_value(answer)
    if one.parsed:
        return READERS[one.key](answer)
    return answer


def answers_of(fields: Iterable[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """What ``fields`` keep of a form's answered slots (``values``: slot → answer), by field
    key in the order asked; a field whose slot was not answered is left out."""
    return {
        one.key: stored_value(one, values[one.slot])
        for one in fields
        if one.slot is not None and one.slot in values
    }


def draft_of(
    kind_name: str, values: Mapping[str, Any], told: Mapping[str, Any] | None = None
) -> EntryDraft:
    """The entry of kind ``kind_name`` that a form's answered slots make.

    ``told`` gives fields by key that no question asks for; it may name only the kind's fields.
    """
    told = dict(told or {})
    keys = FIELD_KEYS[kind_name]
    unknown = set(told) - set(keys)
    if unknown:
        raise ValueError(f"not fields of a {kind_name} entry: {sorted(unknown)}")
    answers = answers_of(kind(kind_name).fields, values)
    columns = {key: answers.pop(key) for key in COLUMNS if key in answers}
    answers.update(told)
    fields = {key: answers[key] for key in keys if key in answers}
    return EntryDraft(kind=kind_name, fields=fields, **columns)


def urge_surfing_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``urge_surfing`` dict of a trigger entry: before, location, change, after."""
    return answers_of(URGE_SURFING.parts, values)
