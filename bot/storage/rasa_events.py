"""Rasa's ``events`` table (its ``SQLTrackerStore``), as this package reads and deletes from it.

Rasa creates and writes the table; the application never migrates it
(:data:`bot.storage.models.FOREIGN_TABLES`), so it is declared in a metadata of its own that
Alembic never sees. The dashboard reads transcripts from it and erasure and retention delete
from it, all through this one declaration.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, inspect
from sqlalchemy.orm import Session

_rasa_metadata = MetaData()

#: Rasa 3.6's ``SQLTrackerStore`` table.
EVENTS = Table(
    "events",
    _rasa_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


def events_exist(session: Session) -> bool:
    """Whether Rasa has made its table yet (not before the Rasa server first starts)."""
    return inspect(session.connection()).has_table(EVENTS.name)
