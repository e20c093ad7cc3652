"""A patient with something in every store, for the erasure, export and purge tests.

Everything goes through the application's own functions (invite, journal, risk flags); the
tracker store's rows are built the way Rasa 3.6 writes them (``dashboard_seed``'s builder)
and sealed the way the tracker store seals them. Each patient's texts carry a tag, so a test
can look for exactly that patient's words anywhere.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dashboard_seed import _Conversation
from sqlalchemy import text

from bot import encryption
from bot.clinics import patients
from bot.journal import entries as journal
from bot.storage import db
from bot.storage.rasa_events import EVENTS

_ids = (uuid.UUID(int=n).hex for n in itertools.count(0xDA7A0000))


@dataclass(frozen=True)
class Person:
    """A patient and the words that are theirs."""

    sender_id: str
    clinic: str
    link_id: str
    journal_text: str
    flag_text: str
    chat_text: str

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.journal_text, self.flag_text, self.chat_text)


def conversation_rows(
    sender_id: str, start: datetime, said: Iterable[str], *, session_start: bool = True
) -> list[dict[str, Any]]:
    """One Rasa session of ``sender_id`` from ``start``: the patient says each of ``said``
    and gets a reply; ``data`` sealed. ``session_start=False`` leaves out the session's
    opening events (a tracker from before sessions were configured)."""
    chat = _Conversation(sender_id, start, _ids)
    if not session_start:
        chat.rows.clear()
    for sentence in said:
        chat.user(sentence, after=5)
        chat.bot("utter_default", "Thank you for telling me.")
    for row in chat.rows:
        row["data"] = encryption.seal(row["data"])
    return chat.rows


def insert_events(rows: list[dict[str, Any]]) -> None:
    """Rows into Rasa's ``events`` table, creating it as Rasa does if it is not there."""
    engine = db.get_engine()
    EVENTS.metadata.create_all(engine, tables=[EVENTS])
    with engine.begin() as connection:
        connection.execute(EVENTS.insert(), rows)


def make_person(clinic: str, tag: str, *, now: datetime | None = None) -> Person:
    """A patient of ``clinic`` with two journal entries, a risk flag and two conversations."""
    moment = now or datetime.now(UTC)
    invite = patients.invite(clinic)
    person = Person(
        sender_id=invite.sender_id,
        clinic=clinic,
        link_id=invite.link_id,
        journal_text=f"{tag} journal: the blue kettle on my grandmother's stove",
        flag_text=f"{tag} crisis: I keep thinking about ending it tonight",
        chat_text=f"{tag} chat: Mark texted me about the Anchor pub",
    )
    journal.save_entry(
        person.sender_id, "checkin", fields={"note": person.journal_text}, mood=4, craving=6
    )
    journal.save_entry(
        person.sender_id,
        "integration",
        fields={"stood_out": person.journal_text, "intention": "walk after dinner"},
    )
    journal.record_risk_flag(
        person.sender_id, message=person.flag_text, category="suicide", source="detector"
    )
    rows = conversation_rows(person.sender_id, moment - timedelta(days=3), [person.chat_text])
    rows += conversation_rows(person.sender_id, moment - timedelta(hours=2), [person.flag_text])
    insert_events(rows)
    return person


def raw_values(sender_id: str) -> list[str]:
    """The stored (sealed) strings of a patient's journal, flags and events, as in the file."""
    with db.get_engine().connect() as connection:
        values = connection.execute(
            text(
                "SELECT fields FROM journal_entries JOIN patients ON patients.id = "
                "journal_entries.patient_id WHERE patients.sender_id = :s "
                "UNION ALL SELECT message FROM risk_flags JOIN patients ON patients.id = "
                "risk_flags.patient_id WHERE patients.sender_id = :s "
                "UNION ALL SELECT data FROM events WHERE sender_id = :s"
            ),
            {"s": sender_id},
        ).scalars()
        return [value for value in values if value]


def file_bytes(database: Path) -> bytes:
    """The SQLite file and its write-ahead log, as they are on disk."""
    data = database.read_bytes()
    wal = database.with_name(database.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")
