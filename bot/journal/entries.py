"""The journal service: what the actions (and later the web app) call to read and write entries.

Every function runs in its own short transaction and needs nothing set up beforehand: the
schema is migrated on first use, and the demo clinic and the patient are created on the
first write. Patients are known only by the conversation's sender id.

Free text is stored exactly as the person typed it. Nothing here trims, normalises or
truncates answers; limits on length belong to the conversation layer, which can tell the
person about them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot import settings
from bot.clinics.registry import demo_clinic
from bot.journal import care_team_questions, measure_records
from bot.journal.schema import KINDS
from bot.storage import db
from bot.storage.models import (
    RATING_MAX,
    RATING_MIN,
    RISK_LEVELS,
    STATUSES,
    FlagAction,
    JournalEntry,
    MeasureResult,
    Patient,
    RiskFlag,
    utcnow,
)

__all__ = [
    "CARE_TEAM_MESSAGE",
    "RISK_LEVELS",
    "STATUSES",
    "EntryView",
    "export_patient",
    "flag_window",
    "get_entry",
    "latest_entry",
    "leave_care_team_message",
    "recent_entries",
    "record_risk_flag",
    "save_entry",
    "update_entry_fields",
]

logger = logging.getLogger(__name__)

MAX_SENDER_ID_LENGTH = 255

# How often a write is retried after losing a race (two first messages creating the same
# patient, or two entries taking the same number on a database without BEGIN IMMEDIATE).
_WRITE_ATTEMPTS = 5

T = TypeVar("T")


@dataclass(frozen=True)
class EntryView:
    """A journal entry as the rest of the application sees it, detached from any session."""

    number: int
    kind: str
    status: str
    created_at: datetime
    session_date: date | None
    mood: int | None
    craving: int | None
    fields: dict[str, Any]


def entry_view(entry: JournalEntry) -> EntryView:
    """The entry as plain data, detached from its database session."""
    return EntryView(
        number=entry.number,
        kind=entry.kind,
        status=entry.status,
        created_at=entry.created_at,
        session_date=entry.session_date,
        mood=entry.mood,
        craving=entry.craving,
        fields=dict(entry.fields),
    )


def _check_sender_id(sender_id: str) -> None:
    if not isinstance(sender_id, str) or not sender_id:
        raise ValueError("sender_id must be a non-empty string")
    if len(sender_id) > MAX_SENDER_ID_LENGTH:
        raise ValueError(f"sender_id longer than {MAX_SENDER_ID_LENGTH} characters")
    if "\x00" in sender_id:
        raise ValueError("sender_id must not contain NUL characters")


def _check_rating(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    if not RATING_MIN <= value <= RATING_MAX:
        raise ValueError(f"{name} must be between {RATING_MIN} and {RATING_MAX}, got {value}")


def _check_fields(fields: dict[str, Any]) -> None:
    if not isinstance(fields, dict):
        raise TypeError(f"fields must be a dict, not {type(fields).__name__}")
    for key in fields:
        if not isinstance(key, str):
            raise TypeError(f"field names must be strings, got {key!r}")


def _find_patient(session: Session, sender_id: str, *, lock: bool = False) -> Patient | None:
    query = select(Patient).where(Patient.sender_id == sender_id)
    if lock:
        # Serialises writers for one patient on PostgreSQL; SQLite already holds the
        # database write lock (BEGIN IMMEDIATE) and ignores FOR UPDATE.
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def _patient_for_write(session: Session, sender_id: str) -> Patient:
    """The patient, created in the demo clinic if this is their first write; marks them seen."""
    patient = _find_patient(session, sender_id, lock=True)
    now = utcnow()
    if patient is None:
        patient = Patient(
            sender_id=sender_id,
            clinic=demo_clinic(session),
            created_at=now,
            last_seen_at=now,
        )
        session.add(patient)
        session.flush()
    else:
        patient.last_seen_at = now
    return patient


def _entry(session: Session, patient_id: int, number: int) -> JournalEntry | None:
    query = select(JournalEntry).where(
        JournalEntry.patient_id == patient_id, JournalEntry.number == number
    )
    return session.scalars(query).one_or_none()


def _write(operation: Callable[[Session], T]) -> T:
    """Run ``operation`` in a write transaction, retrying when it loses a uniqueness race."""
    db.ensure_schema()
    for _ in range(_WRITE_ATTEMPTS - 1):
        try:
            with db.session_scope() as session:
                return operation(session)
        except IntegrityError:
            continue
    with db.session_scope() as session:
        return operation(session)


def save_entry(
    sender_id: str,
    kind: str,
    *,
    fields: dict[str, Any],
    mood: int | None = None,
    craving: int | None = None,
    session_date: date | None = None,
    status: str = "complete",
) -> EntryView:
    """Store a new entry and return it with its per-patient number (1, 2, 3 …)."""
    _check_sender_id(sender_id)
    if kind not in KINDS:
        raise ValueError(f"unknown journal entry kind {kind!r}; expected one of {KINDS}")
    if status not in STATUSES:
        raise ValueError(f"unknown journal entry status {status!r}; expected one of {STATUSES}")
    _check_rating("mood", mood)
    _check_rating("craving", craving)
    _check_fields(fields)
    if session_date is not None and (
        isinstance(session_date, datetime) or not isinstance(session_date, date)
    ):
        raise TypeError("session_date must be a date (not a datetime) or None")

    def insert(session: Session) -> EntryView:
        patient = _patient_for_write(session, sender_id)
        # The next number is read in the same transaction as the insert; the unique
        # (patient_id, number) constraint turns any lost race into an IntegrityError,
        # which _write retries.
        latest = session.scalar(
            select(func.max(JournalEntry.number)).where(JournalEntry.patient_id == patient.id)
        )
        entry = JournalEntry(
            patient_id=patient.id,
            number=(latest or 0) + 1,
            kind=kind,
            status=status,
            session_date=session_date,
            mood=mood,
            craving=craving,
            fields=dict(fields),
            created_at=utcnow(),
        )
        session.add(entry)
        session.flush()
        return entry_view(entry)

    return _write(insert)


def _newest_entries(
    sender_id: str, *conditions: ColumnElement[bool], limit: int
) -> list[EntryView]:
    """The patient's entries meeting ``conditions``, newest first, at most ``limit``: every
    read of entries goes through the patient's sender id, so none returns another's."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        query = (
            select(JournalEntry)
            .join(Patient)
            .where(Patient.sender_id == sender_id, *conditions)
            .order_by(JournalEntry.number.desc())
            .limit(limit)
        )
        return [entry_view(entry) for entry in session.scalars(query)]


def recent_entries(sender_id: str, limit: int = 10) -> list[EntryView]:
    """The patient's latest entries, newest first; ``[]`` for a patient never seen."""
    if limit <= 0:
        return []
    return _newest_entries(sender_id, limit=limit)


def get_entry(sender_id: str, number: int) -> EntryView | None:
    """The patient's entry with that number, or ``None``; never another patient's entry."""
    found = _newest_entries(sender_id, JournalEntry.number == number, limit=1)
    return found[0] if found else None


def latest_entry(sender_id: str, kind: str) -> EntryView | None:
    """The patient's newest entry of ``kind`` (any status), or ``None``.

    A safety plan is kept this way: each change is saved as a new entry, and the newest
    one is the patient's current plan.
    """
    found = _newest_entries(sender_id, JournalEntry.kind == kind, limit=1)
    return found[0] if found else None


def update_entry_fields(sender_id: str, number: int, fields: dict[str, Any]) -> EntryView | None:
    """Merge ``fields`` into an existing entry's fields (new keys win); ``None`` if no such entry.

    Used for answers that arrive after the entry was saved, such as an urge-surfing
    exercise done right after logging a craving.
    """
    _check_fields(fields)

    def merge(session: Session) -> EntryView | None:
        patient = _find_patient(session, sender_id, lock=True)
        if patient is None:
            return None
        entry = _entry(session, patient.id, number)
        if entry is None:
            return None
        # A new dict, not an in-place update: the JSON column only notices reassignment.
        entry.fields = {**entry.fields, **fields}
        patient.last_seen_at = utcnow()
        session.flush()
        return entry_view(entry)

    return _write(merge)


#: A message a patient left for the care team: a flag of level ``request`` in this category.
CARE_TEAM_MESSAGE = "care_team_message"


def leave_care_team_message(sender_id: str, message: str) -> int:
    """Keep a patient's message for the care team; returns its id.

    It travels as a flag of level ``request``: shown on the patient page, announced to the
    clinic where it is notified of requests, acknowledged like a flag; never counted as risk.
    """
    return record_risk_flag(
        sender_id, message=message, category=CARE_TEAM_MESSAGE, source="patient", level="request"
    )


#: The longest category or source a flag keeps (the width of their columns).
LABEL_CHARS = 64
#: How many of a flag's later messages it keeps (with the first, in ``message``).
LATEST_MESSAGES = 5
#: Levels whose messages each keep a flag of their own: a message the patient left for the
#: care team is what they asked, and none of them may be cut to "the latest few".
UNCOALESCED_LEVELS = frozenset({"request"})


def flag_window() -> timedelta:
    """How long an open flag takes the patient's next messages of its category, counted from
    its latest message (:func:`bot.settings.flag_window_minutes`)."""
    return timedelta(minutes=settings.flag_window_minutes())


def _urgency(level: str) -> int:
    """0 for the most pressing level (urgent), then in the order of :data:`RISK_LEVELS`."""
    return RISK_LEVELS.index(level)


def _coalesce(
    session: Session,
    patient: Patient,
    *,
    message: str,
    category: str | None,
    level: str,
    now: datetime,
) -> RiskFlag | None:
    """The open flag that takes this message, updated; ``None`` if a new flag must be made.

    The flag taking the patient's messages of a category is the one whose ``coalesce_key``
    is set. It takes a message of its level or a lower one, within the window of its latest
    message. It stops taking them when the window passes or a message of a more urgent level
    comes: that message gets a flag (and a notice) of its own, so an escalation is never
    folded into a flag the care team has already been told of.

    Called with the patient's row locked (``SELECT ... FOR UPDATE`` on PostgreSQL, the write
    lock on SQLite), so writers for one patient take turns here; the unique
    ``(patient_id, coalesce_key)`` makes any writer that did not a retried IntegrityError.
    """
    key = category or ""
    current = session.scalars(
        select(RiskFlag)
        .where(RiskFlag.patient_id == patient.id, RiskFlag.coalesce_key == key)
        .with_for_update()
    ).one_or_none()
    if current is None:
        return None
    taking = (
        current.acknowledged_at is None
        and current.erased_at is None
        and current.last_message_at > now - flag_window()
        and _urgency(level) >= _urgency(current.level)
    )
    if not taking:
        current.coalesce_key = None
        session.flush()
        return None
    entry = {"at": now.isoformat(), "text": message}
    current.latest_messages = [*(current.latest_messages or []), entry][-LATEST_MESSAGES:]
    current.message_count += 1
    current.last_message_at = now
    return current


def record_risk_flag(
    sender_id: str,
    *,
    message: str,
    category: str | None,
    source: str,
    level: str = "urgent",
) -> int:
    """Keep a message that showed signs of risk for the care team; returns the flag's id.

    ``level`` (one of :data:`RISK_LEVELS`) says how soon the care team should look, and
    whether the clinic is told at once (its ``notify_levels``, :mod:`bot.clinics.notify`).

    A message of the same patient and category as an open flag, within :func:`flag_window`
    of that flag's latest message and no more urgent than it, is added to that flag (its
    count and latest messages) and its id returned: one flag and one notice however many
    messages a crisis, or a flood, brings. Messages for the care team (``request``) each
    keep a flag of their own.
    """
    _check_sender_id(sender_id)
    if not isinstance(message, str):
        raise TypeError("message must be a string")
    if not source:
        raise ValueError("source must name what raised the flag")
    if level not in RISK_LEVELS:
        raise ValueError(f"unknown risk level {level!r}; expected one of {RISK_LEVELS}")
    # PostgreSQL text cannot hold NUL; losing a crisis flag over an invisible control
    # character would be far worse than showing it as U+FFFD.
    message = message.replace("\x00", "\ufffd")
    # The columns hold 64 characters, and PostgreSQL refuses a longer value where SQLite
    # keeps it: a label that long is not one the detector gives, and must not cost the flag.
    category = category[:LABEL_CHARS] if category is not None else None
    source = source[:LABEL_CHARS]

    def insert(session: Session) -> int:
        patient = _patient_for_write(session, sender_id)
        now = utcnow()
        coalescing = level not in UNCOALESCED_LEVELS
        if coalescing:
            found = _coalesce(
                session, patient, message=message, category=category, level=level, now=now
            )
            if found is not None:
                session.flush()
                return found.id
        flag = RiskFlag(
            patient_id=patient.id,
            category=category,
            source=source,
            level=level,
            message=message,
            created_at=now,
            last_message_at=now,
            message_count=1,
            coalesce_key=(category or "") if coalescing else None,
        )
        session.add(flag)
        session.flush()
        return flag.id

    return _write(insert)


def _flag_actions(flag: RiskFlag, actions: list[FlagAction]) -> dict[str, Any]:
    """What the care team did about a flag, for the export: the acknowledgement that stands
    (its action, note and follow-up, empty for an open flag or one acknowledged without an
    action) and every acknowledgement, undone ones included, oldest first."""
    standing = next(
        (a for a in reversed(actions) if a.undone_at is None and flag.acknowledged_at), None
    )
    return {
        "action": standing.action if standing else None,
        "action_note": standing.note if standing else None,
        "follow_up": _iso(standing.follow_up) if standing else None,
        "follow_up_done_at": _iso(standing.follow_up_done_at) if standing else None,
        "acknowledgements": [
            {
                "action": action.action,
                "note": action.note,
                "follow_up": _iso(action.follow_up),
                "follow_up_done_at": _iso(action.follow_up_done_at),
                "follow_up_done_by": action.follow_up_done_by,
                "acknowledged_at": _iso(action.acknowledged_at),
                "acknowledged_by": action.acknowledged_by,
                "undone_at": _iso(action.undone_at),
                "undone_by": action.undone_by,
            }
            for action in actions
        ],
    }


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_patient(sender_id: str) -> dict[str, Any] | None:
    """Everything stored about one patient, as JSON-ready data; ``None`` if unknown.

    Entries come oldest first with their fields verbatim; dates and times are ISO 8601
    (UTC for timestamps). This is what a patient receives when they ask for their data.
    """
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patient = _find_patient(session, sender_id)
        if patient is None:
            return None
        entries = session.scalars(
            select(JournalEntry)
            .where(JournalEntry.patient_id == patient.id)
            .order_by(JournalEntry.number)
        )
        asked = care_team_questions.by_entry(session, patient.id)
        flags = list(
            session.scalars(
                select(RiskFlag)
                .where(RiskFlag.patient_id == patient.id)
                .order_by(RiskFlag.created_at, RiskFlag.id)
            )
        )
        actions: dict[int, list[FlagAction]] = {}
        for action in session.scalars(
            select(FlagAction)
            .where(FlagAction.flag_id.in_([flag.id for flag in flags]))
            .order_by(FlagAction.id)
        ):
            actions.setdefault(action.flag_id, []).append(action)
        return {
            "patient": patient.sender_id,
            "clinic": patient.clinic.slug,
            "label": patient.label,
            "exported_at": utcnow().isoformat(),
            "entries": [
                {
                    "number": entry.number,
                    "kind": entry.kind,
                    "status": entry.status,
                    "created_at": _iso(entry.created_at),
                    "session_date": _iso(entry.session_date),
                    "mood": entry.mood,
                    "craving": entry.craving,
                    "fields": dict(entry.fields),
                    # Only in entries that asked the care team's questions (the shape of every
                    # other entry stays as it was).
                    **(
                        {"care_team_questions": [q.as_export() for q in asked[entry.id]]}
                        if entry.id in asked
                        else {}
                    ),
                }
                for entry in entries
            ],
            "risk_flags": [
                {
                    "id": flag.id,
                    "created_at": _iso(flag.created_at),
                    "level": flag.level,
                    "category": flag.category,
                    "source": flag.source,
                    "message": flag.message,
                    "message_count": flag.message_count,
                    "last_message_at": _iso(flag.last_message_at),
                    "latest_messages": [dict(m) for m in flag.latest_messages or ()],
                    "acknowledged_at": _iso(flag.acknowledged_at),
                    "acknowledged_by": flag.acknowledged_by,
                    **_flag_actions(flag, actions.get(flag.id, [])),
                }
                for flag in flags
            ],
            "measures": [
                measure_records.result_view(row).as_export()
                for row in session.scalars(
                    select(MeasureResult)
                    .where(MeasureResult.patient_id == patient.id)
                    .order_by(MeasureResult.completed_at, MeasureResult.id)
                )
            ],
        }
