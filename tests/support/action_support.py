"""Running custom actions the way the action server runs them, for the action tests.

Trackers are built the way Rasa sends them: for a form turn, the events end with the form's
``ActionExecuted`` followed by the slot candidates that the slot's mappings extracted from the
message. The journal is read back with plain SQL, so that a test sees what is really stored
(sealed columns opened with the test session's data key), not what the models make of it.

The fixtures that go with these (``domain``, ``dispatcher``, ``journal_db``,
``broken_journal``) are in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import TextClause, inspect, text

from bot import encryption
from bot.settings import PROJECT_ROOT
from bot.storage import db

DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
#: The sender of every tracker unless a test names another.
PATIENT = "patient-a"
#: ``form_turn``'s default for ``extracted``: what the slot's ``from_text`` mapping takes.
FROM_MAPPING: Any = object()


def load_domain() -> dict[str, Any]:
    with DOMAIN_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --------------------------------------------------------------------------- trackers


def empty_slots(domain: dict[str, Any]) -> dict[str, Any]:
    return {name: None for name in domain["slots"]} | {"requested_slot": None}


def parse_data(
    message: str, intent: str, entities: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "text": message,
        "intent": {"name": intent, "confidence": 0.93},
        "entities": entities or [],
        **extra,
    }


def form_turn(
    domain: dict[str, Any],
    form: str,
    slot: str,
    message: str,
    *,
    extracted: Any = FROM_MAPPING,
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    sender: str = PATIENT,
    parsed: dict[str, Any] | None = None,
    earlier: list[dict[str, Any]] | None = None,
) -> Tracker:
    """The tracker Rasa sends to ``validate_<form>`` after the person answered ``slot``.

    ``extracted`` is what the slot's mappings took from the message (None: nothing); by
    default, the message itself where the slot's first mapping is ``from_text`` and the
    intent is not one it excludes (so nothing for a custom-mapped slot such as
    ``session_date``). ``parsed`` adds to the NLU's output (e.g. the response selector's);
    ``earlier`` are events of the turns before this one.
    """
    if extracted is FROM_MAPPING:
        mapping = domain["slots"][slot]["mappings"][0]
        from_text = mapping["type"] == "from_text" and intent not in mapping.get("not_intent", [])
        extracted = message if from_text else None
    latest = parse_data(message, intent, **(parsed or {}))
    values = empty_slots(domain) | (slots or {}) | {"requested_slot": slot}
    events: list[dict[str, Any]] = [
        {"event": "active_loop", "name": form},
        *(earlier or []),
        {"event": "user", "text": message, "parse_data": latest},
        {"event": "slot", "name": "requested_slot", "value": slot},
        {"event": "action", "name": form},
    ]
    if extracted is not None:
        events.append({"event": "slot", "name": slot, "value": extracted})
        values[slot] = extracted
    return Tracker(sender, values, latest, events, False, None, {"name": form}, form)


def turn(
    domain: dict[str, Any],
    message: str = "",
    *,
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    sender: str = PATIENT,
    **extra: Any,
) -> Tracker:
    """A tracker for an ordinary action after a user message; ``extra`` goes into the
    message's parse data (``crisis_detection``, say)."""
    latest = parse_data(message, intent, entities, **extra)
    values = empty_slots(domain) | (slots or {})
    events = [{"event": "user", "text": message, "parse_data": latest}]
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(sender, values, latest, events, False, None, loop, "action_listen")


# --------------------------------------------------------------------------- running and reading


def run(
    action: Action, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
) -> list[dict[str, Any]]:
    return asyncio.run(action.run(dispatcher, tracker, domain))


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [m.get("response") for m in dispatcher.messages]


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m["text"] for m in dispatcher.messages if m.get("text"))


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


# --------------------------------------------------------------------------- the stored journal


#: A patient's journal entries as stored; the patient is the bound parameter ``:sender``.
ENTRY_ROWS = text(
    "SELECT e.number, e.kind, e.status, e.session_date, e.mood, e.craving, e.fields "
    "FROM journal_entries e JOIN patients p ON p.id = e.patient_id "
    "WHERE p.sender_id = :sender ORDER BY e.number"
)
#: A patient's risk flags as stored, oldest first; the patient is bound as ``:sender``.
FLAG_ROWS = text(
    "SELECT f.level, f.category, f.source, f.message FROM risk_flags f "
    "JOIN patients p ON p.id = f.patient_id WHERE p.sender_id = :sender ORDER BY f.id"
)


def raw_rows(url: str, query: TextClause, sender: str) -> list[dict[str, Any]]:
    """Rows as they sit in the database, read with plain SQL (not the models, which would
    open the sealed columns themselves); none if nothing was ever stored. ``query`` is one of
    the fixed statements above: the patient is always a bound parameter, never spliced in."""
    engine = db.get_engine(url)
    if not inspect(engine).has_table("patients"):
        return []
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query, {"sender": sender}).mappings()]


def stored_entries(url: str, sender: str = PATIENT) -> list[dict[str, Any]]:
    """Entries as stored, opened with the test's data key (the database holds sealed text
    only). Dates as ISO text, as SQLite stores them, whatever the database."""
    rows = raw_rows(url, ENTRY_ROWS, sender)
    return [
        row
        | {
            "fields": json.loads(encryption.open_value(row["fields"])),
            "session_date": row["session_date"] and str(row["session_date"]),
        }
        for row in rows
    ]


def stored_flags(url: str, sender: str = PATIENT) -> list[dict[str, Any]]:
    """Risk flags as stored, oldest first, the message opened with the test's data key."""
    rows = raw_rows(url, FLAG_ROWS, sender)
    return [row | {"message": encryption.open_value(row["message"])} for row in rows]
