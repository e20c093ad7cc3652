"""A clinic's crisis numbers, picked for each kind of crisis reply.

Why a module of its own: crisis replies are built from the clinic's own lines (a clinic in the
UK needs 999 and Samaritans, not 911 and 988), and they are built in the Rasa server
(Python 3.10, SQLAlchemy 1.4) as well as in the application. This module therefore takes a
clinic's settings as a plain dict - what :func:`bot.patient_tokens.clinic_crisis_settings` reads, or
:meth:`bot.clinics.registry.ClinicView.crisis_settings` gives - and imports nothing but the standard
library and PyYAML, so that both environments can use it, with the database down too
(:func:`default_settings`).

The settings dict: ``emergency_number`` (said on its own in every urgent reply),
``response_time`` ("within one working day": when the care team usually reads a flag),
``crisis_lines`` (``[{"name", "number", "detail"?, "kinds"?}]``) and ``peer_support_line``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEFAULTS_FILE = Path(__file__).resolve().parents[1] / "content" / "clinic_defaults.yml"

#: The crisis replies a line can be listed in. ``ask`` is the direct safety question, ``recent``
#: the reply to a recent past overdose or attempt, ``lapse`` the reply after a slip.
LINE_KINDS: tuple[str, ...] = (
    "suicide",
    "self_harm",
    "overdose",
    "medical",
    "withdrawal",
    "violence",
    "child",
    "harm_others",
    "recent",
    "ask",
    "lapse",
)
SETTINGS_KEYS: tuple[str, ...] = (
    "emergency_number",
    "response_time",
    "crisis_lines",
    "peer_support_line",
)
NUMBER_PATTERN = re.compile(r"^\+?[0-9][0-9 ().-]{0,30}$")
MAX_NAME = 200
MAX_DETAIL = 200
MAX_RESPONSE_TIME = 200
#: What every crisis reply says about the flag the care team will see.
CARE_TEAM_NOTE = "Your care team will see a note about this, usually {response_time}."
# Line breaks and other control characters would break a reply's layout, or hide part of it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class LineError(ValueError):
    """A crisis-line setting that cannot be used, said so that staff can correct it."""


# ----------------------------------------------------------------------------- defaults


@cache
def _read_defaults() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))


def load_defaults() -> dict[str, Any]:
    """Everything in ``bot/content/clinic_defaults.yml``, as a copy the caller may change."""
    return copy.deepcopy(_read_defaults())


def default_settings() -> dict[str, Any]:
    """The crisis settings of a clinic that has set none of its own (the US defaults)."""
    defaults = _read_defaults()
    return {key: copy.deepcopy(defaults[key]) for key in SETTINGS_KEYS}


# ----------------------------------------------------------------------------- checking


def check_text(label: str, value: object, limit: int) -> str:
    """One line of plain text, 1 to ``limit`` characters, without control characters."""
    if not isinstance(value, str):
        raise LineError(f"The {label} must be text.")
    text = value.strip()
    if not text or len(text) > limit:
        raise LineError(f"The {label} must be 1-{limit} characters long.")
    if _CONTROL.search(text):
        raise LineError(f"The {label} must be one line without control characters.")
    return text


def check_number(value: object, label: str = "crisis line's number") -> str:
    """A number a phone can dial: digits, spaces, ``+ ( ) . -``; at most 31 characters."""
    if not isinstance(value, str) or not NUMBER_PATTERN.fullmatch(value.strip()):
        raise LineError(f"{value!r} is not a usable {label}: digits, spaces and + ( ) . - only.")
    return value.strip()


def check_kinds(kinds: Iterable[object]) -> list[str]:
    """Known reply kinds, each once, in the order given; at least one."""
    if isinstance(kinds, str):
        raise LineError("A crisis line's kinds must be a list.")
    checked: list[str] = []
    for kind in kinds:
        name = kind.strip() if isinstance(kind, str) else kind
        if name not in LINE_KINDS:
            raise LineError(f"{kind!r} is not a kind of crisis reply; use {', '.join(LINE_KINDS)}.")
        if name not in checked:
            checked.append(name)
    if not checked:
        raise LineError("A crisis line's kinds cannot be empty: leave them out instead.")
    return checked


def check_line(line: Mapping[str, Any]) -> dict[str, Any]:
    """A crisis line as stored: ``name`` and ``number``, ``detail`` and ``kinds`` if given."""
    if not isinstance(line, Mapping):
        raise LineError("A crisis line must have a name and a number.")
    unknown = set(line) - {"name", "number", "detail", "kinds"}
    if unknown:
        raise LineError(f"A crisis line has name, number, detail and kinds, not {sorted(unknown)}.")
    checked: dict[str, Any] = {
        "name": check_text("crisis line's name", line.get("name"), MAX_NAME),
        "number": check_number(line.get("number")),
    }
    if line.get("detail") is not None:
        checked["detail"] = check_text("crisis line's detail", line["detail"], MAX_DETAIL)
    if line.get("kinds") is not None:
        checked["kinds"] = check_kinds(line["kinds"])
    return checked


def check_lines(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every line checked (:class:`LineError` names the first that is not usable)."""
    return [check_line(line) for line in lines]


def _usable_lines(lines: object) -> list[dict[str, Any]]:
    """The lines that pass :func:`check_line`; the others are left out, never raised about:
    a reply to a patient in crisis must not fail over one malformed setting."""
    usable: list[dict[str, Any]] = []
    for line in lines if isinstance(lines, list) else ():
        try:
            usable.append(check_line(line))
        except LineError:
            continue
    return usable


def complete_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` with every key present and usable, the defaults standing in for the rest.

    Values stored by :mod:`bot.clinics.registry` were checked on the way in; this is for what comes
    back from a database by hand-written SQL, where nothing may be assumed.
    """
    given = settings or {}
    complete = default_settings()
    try:
        complete["emergency_number"] = check_number(
            given.get("emergency_number"), "emergency number"
        )
    except LineError:
        pass
    try:
        complete["response_time"] = check_text(
            "response time", given.get("response_time"), MAX_RESPONSE_TIME
        )
    except LineError:
        pass
    lines = _usable_lines(given.get("crisis_lines"))
    if lines:
        complete["crisis_lines"] = lines
    peer = given.get("peer_support_line")
    if isinstance(peer, bool | int):
        complete["peer_support_line"] = bool(peer)
    return complete


# ----------------------------------------------------------------------------- replies


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def lines_for(kind: str, settings: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The lines a crisis reply of this ``kind`` names, in the clinic's order.

    Each is ``{"name", "number"}`` plus ``"detail"`` when the line has one. The emergency
    number is never among them: replies say it on its own, first. A line is listed where its
    ``kinds`` include ``kind``; a line without kinds is the widget button's only. A clinic
    none of whose lines has kinds (set up before kinds existed) gets all of its lines in every
    reply: a number too many is better than none. Missing settings fall back to the defaults
    (:func:`complete_settings`). :class:`ValueError` for a ``kind`` that is not in
    :data:`LINE_KINDS` - a mistake in the caller, which tests catch.
    """
    if kind not in LINE_KINDS:
        raise ValueError(f"unknown crisis reply kind {kind!r}; expected one of {LINE_KINDS}")
    complete = complete_settings(settings)
    emergency = _digits(complete["emergency_number"])
    lines = [line for line in complete["crisis_lines"] if _digits(line["number"]) != emergency]
    if any("kinds" in line for line in lines):
        lines = [line for line in lines if kind in line.get("kinds", ())]
    return [
        {key: line[key] for key in ("name", "number", "detail") if key in line} for line in lines
    ]


def line_text(line: Mapping[str, str]) -> str:
    """``"Poison Help: 1-800-222-1222"``, with the detail after it in brackets if there is one."""
    text = f"{line['name']}: {line['number']}"
    if line.get("detail"):
        text += f" ({line['detail']})"
    return text


def care_team_note(settings: Mapping[str, Any] | None) -> str:
    """The sentence every crisis reply ends with: when the care team will see the flag."""
    return CARE_TEAM_NOTE.format(response_time=complete_settings(settings)["response_time"])
