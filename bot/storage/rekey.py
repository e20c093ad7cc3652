"""Seal every stored patient text with the newest key, in small resumable batches.

Used by migration 0004 (which seals what was stored before encryption existed) and by
``python -m bot keys rotate``. A batch is the rows of one store whose value is not yet sealed
with the newest key; each batch is committed on its own, so an interrupted run loses nothing
and the next run simply goes on with the rows that are left. Rows are updated with a guard
(``WHERE value = <what was read>``), so a row that a running server changed in the meantime
is left alone rather than overwritten with stale text: it was written with the newest key
anyway.

SQLAlchemy Core constructs only (lightweight ``table()``/``column()``, bound values, quoted
names), no SQL strings: the same code runs inside Alembic, the CLI and the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import TableClause, column, func, inspect, select, table, update
from sqlalchemy.engine import Connection, Engine

from bot import encryption
from bot.storage.db import SQLITE_IMMEDIATE


@dataclass(frozen=True)
class Store:
    """One column that holds patient text: ``table.column``, keyed by ``table.id``."""

    name: str
    table: str
    column: str

    @property
    def clause(self) -> TableClause:
        """The table as a Core construct with the two columns used here."""
        return table(self.table, column("id"), column(self.column))


#: Every place patient text is kept, and staff's notes about a patient (sealed the same way).
#: Rasa's ``events`` may not exist yet (no conversation).
STORES: tuple[Store, ...] = (
    Store("journal", "journal_entries", "fields"),
    Store("risk_flags", "risk_flags", "message"),
    Store("risk_flag_messages", "risk_flags", "latest_messages"),
    Store("events", "events", "data"),
    Store("patient_labels", "patients", "label"),
    Store("flag_action_notes", "flag_actions", "note"),
    Store("care_team_questions", "care_team_questions", "question"),
    Store("care_team_answers", "care_team_questions", "answer"),
    Store("reminder_addresses", "reminder_subscriptions", "address"),
)


def _sealed_pattern(primary: str) -> str:
    return f"{encryption.PREFIX}{primary}:%"


def _pending(connection: Connection, store: Store, primary: str, after: int, limit: int) -> list:
    rows = store.clause
    value = rows.c[store.column]
    query = (
        select(rows.c.id, value)
        .where(rows.c.id > after, value.is_not(None), value.not_like(_sealed_pattern(primary)))
        .order_by(rows.c.id)
        .limit(limit)
    )
    return list(connection.execute(query))


def count_pending(connection: Connection) -> dict[str, int]:
    """Rows per store not yet sealed with the newest key (plaintext or an older key)."""
    primary = encryption.keyring().primary
    counts = {}
    for store in _present(connection):
        rows = store.clause
        value = rows.c[store.column]
        counts[store.name] = connection.execute(
            select(func.count())
            .select_from(rows)
            .where(value.is_not(None), value.not_like(_sealed_pattern(primary)))
        ).scalar_one()
    return counts


def count_by_key(connection: Connection) -> dict[str, dict[str, int]]:
    """For each store, how many rows each key id sealed (``"plaintext"`` for unsealed)."""
    result: dict[str, dict[str, int]] = {}
    for store in _present(connection):
        counts: dict[str, int] = {}
        value = store.clause.c[store.column]
        rows = connection.execute(select(func.substr(value, 1, 13)).where(value.is_not(None)))
        for (head,) in rows:
            kid = head[len(encryption.PREFIX) : len(encryption.PREFIX) + 8]
            name = kid if encryption.is_sealed(head) else "plaintext"
            counts[name] = counts.get(name, 0) + 1
        result[store.name] = counts
    return result


def _reseal_batch(connection: Connection, store: Store, after: int, batch: int) -> int | None:
    """Seal one batch of ``store`` after row ``after``; the last row id, ``None`` when done."""
    ring = encryption.keyring()
    rows = _pending(connection, store, ring.primary, after, batch)
    target = store.clause
    value = target.c[store.column]
    for row_id, stored in rows:
        plaintext = encryption.open_value(stored) if encryption.is_sealed(stored) else stored
        connection.execute(
            update(target)
            .where(target.c.id == row_id, value == stored)
            .values({store.column: ring.seal(plaintext)})
        )
    return rows[-1][0] if rows else None


def _present(connection: Connection) -> list[Store]:
    """The stores this database has: a migration that reseals (0004) runs before later
    migrations add their columns."""
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    columns = {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in {store.table for store in STORES} & tables
    }
    return [store for store in STORES if store.column in columns.get(store.table, ())]


def reseal_engine(
    engine: Engine, batch: int = 500, progress: Callable[[str, int], None] | None = None
) -> None:
    """Seal every store in ``engine``'s database, committing after each batch.

    ``progress(store, last_id)`` is called after every committed batch.
    """
    with engine.connect() as connection:
        stores = _present(connection)
    for store in stores:
        after: int | None = 0
        while after is not None:
            with engine.connect() as connection:
                # SQLite: take the write lock when the batch starts. A batch that read in a
                # snapshot and then tried to write after a server's commit would fail with
                # "database is locked" at once instead of waiting its turn.
                connection.execution_options(**{SQLITE_IMMEDIATE: True})
                with connection.begin():
                    after = _reseal_batch(connection, store, after, batch)
            if after is not None and progress is not None:
                progress(store.name, after)


def reseal_connection(connection: Connection, batch: int = 500) -> None:
    """Seal every store through one connection, inside the caller's transaction (Alembic)."""
    for store in _present(connection):
        after: int | None = 0
        while after is not None:
            after = _reseal_batch(connection, store, after, batch)
