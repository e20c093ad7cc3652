"""Seal every stored patient text with the newest key, in small resumable batches.

Used by migration 0004 (which seals what was stored before encryption existed) and by
``python -m bot keys rotate``. A batch is the rows of one store whose value is not yet sealed
with the newest key; each batch is committed on its own, so an interrupted run loses nothing
and the next run simply goes on with the rows that are left. Rows are updated with a guard
(``WHERE value = <what was read>``), so a row that a running server changed in the meantime
is left alone rather than overwritten with stale text: it was written with the newest key
anyway.

Core ``text()`` only: the same code runs inside Alembic, the CLI and the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from bot import encryption
from bot.storage.db import SQLITE_IMMEDIATE


@dataclass(frozen=True)
class Store:
    """One column that holds patient text: ``table.column``, keyed by ``table.id``."""

    name: str
    table: str
    column: str


#: Every place patient text is kept. Rasa's ``events`` may not exist yet (no conversation).
STORES: tuple[Store, ...] = (
    Store("journal", "journal_entries", "fields"),
    Store("risk_flags", "risk_flags", "message"),
    Store("events", "events", "data"),
)


def _pending(connection: Connection, store: Store, primary: str, after: int, limit: int) -> list:
    query = text(
        f"SELECT id, {store.column} FROM {store.table} "  # noqa: S608 - names are constants
        f"WHERE id > :after AND {store.column} IS NOT NULL "
        f"AND {store.column} NOT LIKE :sealed ORDER BY id LIMIT :limit"
    )
    sealed = f"{encryption.PREFIX}{primary}:%"
    return list(connection.execute(query, {"after": after, "sealed": sealed, "limit": limit}))


def count_pending(connection: Connection) -> dict[str, int]:
    """Rows per store not yet sealed with the newest key (plaintext or an older key)."""
    primary = encryption.keyring().primary
    counts = {}
    for store in _present(connection):
        counts[store.name] = connection.execute(
            text(
                f"SELECT COUNT(*) FROM {store.table} "  # noqa: S608 - names are constants
                f"WHERE {store.column} IS NOT NULL AND {store.column} NOT LIKE :sealed"
            ),
            {"sealed": f"{encryption.PREFIX}{primary}:%"},
        ).scalar_one()
    return counts


def count_by_key(connection: Connection) -> dict[str, dict[str, int]]:
    """For each store, how many rows each key id sealed (``"plaintext"`` for unsealed)."""
    result: dict[str, dict[str, int]] = {}
    for store in _present(connection):
        counts: dict[str, int] = {}
        rows = connection.execute(
            text(
                f"SELECT SUBSTR({store.column}, 1, 13) FROM {store.table} "  # noqa: S608
                f"WHERE {store.column} IS NOT NULL"
            )
        )
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
    for row_id, value in rows:
        plaintext = encryption.open_value(value) if encryption.is_sealed(value) else value
        connection.execute(
            text(
                f"UPDATE {store.table} SET {store.column} = :new "  # noqa: S608 - constants
                f"WHERE id = :id AND {store.column} = :old"
            ),
            {"new": ring.seal(plaintext), "id": row_id, "old": value},
        )
    return rows[-1][0] if rows else None


def _present(connection: Connection) -> list[Store]:
    tables = set(inspect(connection).get_table_names())
    return [store for store in STORES if store.table in tables]


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
