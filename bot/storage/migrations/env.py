"""Alembic environment for the application schema.

Configured from :mod:`bot.storage.db` (``upgrade()``/``alembic_config()``) or from
``bot/storage/alembic.ini`` for authoring new revisions with the ``alembic`` command.

Three things here protect data that is not ours or that a migration could destroy:

- Rasa's ``events`` table shares the database; ``include_name``/``include_object`` keep
  Alembic from ever creating, altering or dropping it, and autogenerate from seeing it.
- On SQLite, Alembic alters tables by rebuilding them. With foreign keys enforced, dropping
  the old ``patients`` table would cascade-delete every journal entry, so enforcement is off
  for the migration and ``PRAGMA foreign_key_check`` verifies integrity before commit.
- Concurrent upgrades (several processes starting on a fresh database) are serialised:
  SQLite by ``BEGIN IMMEDIATE``, PostgreSQL by a transaction-scoped advisory lock.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from bot import settings
from bot.storage import db
from bot.storage.models import Base

config = context.config
target_metadata = Base.metadata

# Arbitrary but fixed: identifies "the companion's schema migration" among advisory locks.
_PG_MIGRATION_LOCK_KEY = 0x636F6D70


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return url or settings.database_url()


def _common_options(dialect_name: str) -> dict[str, object]:
    return {
        "target_metadata": target_metadata,
        "include_name": db.include_name,
        "include_object": db.include_object,
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",
    }


def run_migrations_offline() -> None:
    """Emit the migration SQL instead of running it (``alembic upgrade --sql``)."""
    url = _database_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_common_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    dialect_name = connection.dialect.name
    context.configure(
        connection=connection,
        transactional_ddl=True,
        **_common_options(dialect_name),
    )
    with context.begin_transaction():
        if dialect_name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": _PG_MIGRATION_LOCK_KEY},
            )
        context.run_migrations()
        if dialect_name == "sqlite":
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"migration left broken foreign keys: {problems!r}")


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    supplied = config.attributes.get("connection")
    if supplied is not None:
        _run(supplied)
        return

    engine = db.get_engine(_database_url())
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            _run(connection)
            return
        # PRAGMA foreign_keys is ignored inside a transaction, so it goes straight to the
        # driver connection before SQLAlchemy begins one.
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            _run(connection.execution_options(**{db.SQLITE_IMMEDIATE: True}))
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
