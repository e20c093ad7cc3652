"""The schema, its migrations and the database settings, on real SQLite files and a real
PostgreSQL server (tests about SQLite's own settings run on SQLite only)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, StatementError

from bot import encryption
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import Base, Clinic
from bot.storage.rasa_events import EVENTS

MODEL_TABLES = {
    "clinics",
    "patients",
    "journal_entries",
    "risk_flags",
    "patient_links",
    "therapists",
    "therapist_sessions",
    "login_throttle",
    "audit_log",
    "erasure_requests",
    "measure_schedules",
    "measure_results",
    "flag_actions",
    "care_team_questions",
    "recorded_sessions",
    "session_follow_ups",
    "reminder_subscriptions",
    "patient_consents",
}
HEAD_REVISION = "0014"

pytestmark = pytest.mark.databases("sqlite", "postgresql")
sqlite_only = pytest.mark.databases("sqlite")


def _diff(url: str, *, filtered: bool = True) -> list[object]:
    opts: dict[str, object] = {"compare_type": True}
    if filtered:
        opts |= {"include_name": db.include_name, "include_object": db.include_object}
    with db.get_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def _rasa_events_table(url: str) -> None:
    """Create ``events`` the way Rasa 3.6's SQLTrackerStore does, with one event in it.

    The declaration is the one the dashboard reads (:data:`bot.storage.rasa_events.EVENTS`), kept apart
    from our models' metadata, so the migrations have to leave it alone.
    """
    engine = create_engine(db.sqlalchemy_url(url))
    EVENTS.metadata.create_all(engine, tables=[EVENTS])
    with engine.begin() as connection:
        connection.execute(
            EVENTS.insert().values(
                sender_id="demo-1",
                type_name="user",
                timestamp=1.5,
                intent_name="greet",
                data='{"event": "user", "text": "hi"}',
            )
        )
    engine.dispose()


#: The definition of a table, its indexes and triggers, as the database itself states them.
_SCHEMA_SQL = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE tbl_name = :table ORDER BY name",
    "postgresql": """
        SELECT 'column ' || column_name,
               concat_ws(' ', data_type, character_maximum_length, is_nullable, column_default)
          FROM information_schema.columns WHERE table_name = :table
        UNION ALL
        SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE tablename = :table
        UNION ALL
        SELECT 'constraint ' || conname, pg_get_constraintdef(oid)
          FROM pg_constraint WHERE conrelid = CAST(:table AS regclass)
        UNION ALL
        SELECT 'trigger ' || tgname, pg_get_triggerdef(oid)
          FROM pg_trigger WHERE tgrelid = CAST(:table AS regclass) AND NOT tgisinternal
        ORDER BY 1
    """,
}


def _schema(url: str, table: str) -> list[tuple[str, str]]:
    """The table's definition. SQLite's is the CREATE statement as written, whose clauses a
    batch migration may reorder: they are compared as a sorted list."""
    engine = db.get_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(_SCHEMA_SQL[engine.dialect.name]), {"table": table})
        return [
            (name, "\n".join(sorted(line.strip().rstrip(",") for line in (sql or "").split("\n"))))
            for name, sql in rows
        ]


def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    with db.get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://u:p%40ss@db:5432/companion",
            "postgresql+psycopg://u:p%40ss@db:5432/companion",
        ),
        ("postgres://u@db/companion", "postgresql+psycopg://u@db/companion"),
        ("postgresql+psycopg2://u@db/companion", "postgresql+psycopg2://u@db/companion"),
        ("sqlite:///var/companion.db", "sqlite:///var/companion.db"),
    ],
)
def test_database_urls_get_this_environments_driver(given: str, expected: str) -> None:
    """DATABASE_URL names no driver; this side reads PostgreSQL with psycopg 3 (the Rasa
    server's side with psycopg2, bot.chat.tracker_store.engine_url)."""
    assert db.sqlalchemy_url(given).render_as_string(hide_password=False) == expected


def test_the_database_is_the_backend_asked_for(database_url: str, database_backend: str) -> None:
    """Guards the parametrisation itself: a PostgreSQL run that silently fell back to SQLite
    would pass everything below."""
    assert db.get_engine().dialect.name == database_backend
    assert db.get_engine(database_url).dialect.name == database_backend


def test_upgrade_from_empty_creates_exactly_the_model_tables(
    database_url: str, database_path: Path, database_backend: str
) -> None:
    assert not database_path.parent.exists()

    db.upgrade()

    assert database_path.is_file() == (database_backend == "sqlite")
    tables = set(inspect(db.get_engine()).get_table_names())
    assert tables == MODEL_TABLES | {"alembic_version"}
    assert set(Base.metadata.tables) == MODEL_TABLES
    assert db.current_revision() == HEAD_REVISION


@pytest.mark.slow
def test_migrations_and_models_agree(database_url: str) -> None:
    # On an empty database the comparison must see the whole schema missing; otherwise
    # the empty diff below would prove nothing.
    assert _diff(database_url)

    db.upgrade()

    assert _diff(database_url) == []


def test_rasa_events_table_survives_upgrade_with_its_text_sealed(
    database_url: str, database_path: Path
) -> None:
    database_path.parent.mkdir(parents=True)
    _rasa_events_table(database_url)
    schema_before = _schema(database_url, "events")
    assert schema_before  # the query sees the table at all

    db.upgrade()

    assert _schema(database_url, "events") == schema_before
    rows = _rows(database_url, "SELECT sender_id, type_name, data FROM events")
    # Same rows, same schema; only the event's text is now sealed (migration 0004).
    [(sender_id, type_name, data)] = rows
    assert (sender_id, type_name) == ("demo-1", "user")
    assert encryption.is_sealed(data)
    assert encryption.open_value(data) == '{"event": "user", "text": "hi"}'
    # Autogenerate ignores it: unfiltered, Alembic would propose dropping Rasa's table.
    assert _diff(database_url) == []
    unfiltered = _diff(database_url, filtered=False)
    assert ("remove_table", "events") in [
        (op[0], op[1].name)  # type: ignore[index]
        for op in unfiltered
        if isinstance(op, tuple)
    ]


def test_downgrade_leaves_rasa_events_alone(database_url: str, database_path: Path) -> None:
    database_path.parent.mkdir(parents=True)
    _rasa_events_table(database_url)
    db.upgrade()

    from alembic import command

    command.downgrade(db.alembic_config(), "base")

    tables = set(inspect(db.get_engine()).get_table_names())
    assert tables == {"events", "alembic_version"}


def test_downgrade_then_upgrade_again_gives_the_same_schema(migrated: str) -> None:
    """Every downgrade removes all that its upgrade made (on PostgreSQL: the audit log's
    trigger function too), so the way back up works and ends where it started."""
    from alembic import command

    before = {table: _schema(migrated, table) for table in MODEL_TABLES}
    command.downgrade(db.alembic_config(), "base")
    assert set(inspect(db.get_engine()).get_table_names()) == {"alembic_version"}

    db.upgrade()

    assert {table: _schema(migrated, table) for table in MODEL_TABLES} == before
    assert _diff(migrated) == []


def test_upgrade_on_an_up_to_date_database_changes_nothing(migrated: str) -> None:
    schema = _schema(migrated, "journal_entries")
    assert schema
    db.upgrade()
    assert _schema(migrated, "journal_entries") == schema


@pytest.mark.slow
def test_concurrent_first_upgrades_from_several_processes(
    database_url: str,
) -> None:
    """The action server, the web app and the CLI may all start on a fresh database."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT_ROOT)}
    code = "from bot.storage import db; db.upgrade()"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            cwd=PROJECT_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(process.wait(timeout=60), process.stderr) for process in processes]
    errors = [stream.read() if stream else "" for _, stream in results]
    for process in processes:
        if process.stderr:
            process.stderr.close()
    assert [code for code, _ in results] == [0, 0, 0, 0], errors
    versions = _rows(database_url, "SELECT version_num FROM alembic_version")
    assert versions == [(HEAD_REVISION,)]


def test_ensure_schema_migrates_once_per_process_and_url(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    real_upgrade = db.upgrade

    def counting_upgrade(url: str | None = None, revision: str = "head") -> None:
        calls.append(url)
        real_upgrade(url, revision)

    monkeypatch.setattr(db, "upgrade", counting_upgrade)
    db.ensure_schema()
    db.ensure_schema()
    db.ensure_schema(database_url)
    assert calls == [database_url]
    assert db.current_revision() == HEAD_REVISION

    db.reset_engines()
    db.ensure_schema()
    assert len(calls) == 2


@sqlite_only
def test_sqlite_connections_enforce_foreign_keys_wal_and_busy_timeout(
    migrated: str,
) -> None:
    with db.session_scope(write=False) as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_engines_are_cached_per_url(migrated: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert db.get_engine() is db.get_engine(migrated)
    assert db.get_engine(other) is not db.get_engine()
    db.reset_engines()
    assert db.get_engine(migrated) is not None


@sqlite_only
def test_write_session_holds_the_write_lock(migrated: str, database_path: Path) -> None:
    """A write transaction starts with BEGIN IMMEDIATE, so no one can sneak in between
    reading the next entry number and inserting it."""

    def writer_can_start() -> bool:
        probe = sqlite3.connect(database_path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            probe.close()

    with db.session_scope(write=False) as session:
        session.execute(select(Clinic)).all()
        assert writer_can_start()
    with db.session_scope() as session:
        assert not writer_can_start()
    assert writer_can_start()


def test_session_scope_commits_and_rolls_back(migrated: str) -> None:
    with db.session_scope() as session:
        session.add(Clinic(slug="kept", name="Kept"))
    with pytest.raises(RuntimeError), db.session_scope() as session:
        session.add(Clinic(slug="lost", name="Lost"))
        session.flush()
        raise RuntimeError("boom")
    with db.session_scope(write=False) as session:
        assert session.scalars(select(Clinic.slug)).all() == ["kept"]


def test_timestamps_are_stored_in_utc_and_returned_aware(
    migrated: str, database_backend: str
) -> None:
    plus_five = timezone(timedelta(hours=5))
    written = datetime(2026, 3, 1, 9, 30, tzinfo=plus_five)
    with db.session_scope() as session:
        session.add(Clinic(slug="tz", name="TZ", created_at=written))

    with db.session_scope(write=False) as session:
        read = session.scalars(select(Clinic.created_at)).one()
    assert read == written
    assert read.tzinfo is UTC
    assert (read.hour, read.minute) == (4, 30)
    if database_backend == "sqlite":
        [(raw,)] = _rows(migrated, "SELECT created_at FROM clinics")
        assert raw.startswith("2026-03-01 04:30:00")
    else:  # a timestamptz column, read back in UTC whatever the session's time zone
        [(raw,)] = _rows(
            migrated,
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM clinics",
        )
        assert raw == "2026-03-01 04:30:00"


def test_naive_datetimes_are_refused(migrated: str) -> None:
    with (
        pytest.raises(StatementError, match="naive datetime"),
        db.session_scope() as session,
    ):
        session.add(Clinic(slug="naive", name="Naive", created_at=datetime(2026, 1, 1)))
        session.flush()


def _insert_entry(statement: str, **values: object) -> None:
    with db.session_scope() as session:
        session.execute(text(statement), values)


_CLINIC_AND_PATIENT = [
    "INSERT INTO clinics (id, slug, name, created_at) VALUES (1, 'c', 'C', '2026-01-01')",
    (
        "INSERT INTO patients (id, clinic_id, sender_id, created_at, last_seen_at)"
        " VALUES (1, 1, 'p', '2026-01-01', '2026-01-01')"
    ),
]
_ENTRY = (
    "INSERT INTO journal_entries"
    " (patient_id, number, kind, status, mood, craving, fields, created_at)"
    " VALUES (:patient_id, :number, :kind, :status, :mood, :craving, '{}', '2026-01-01')"
)
_GOOD = {
    "patient_id": 1,
    "number": 1,
    "kind": "checkin",
    "status": "complete",
    "mood": 5,
    "craving": None,
}


@pytest.fixture
def patient_row(migrated: str) -> None:
    with db.session_scope() as session:
        for statement in _CLINIC_AND_PATIENT:
            session.execute(text(statement))


@pytest.mark.parametrize(
    "override",
    [
        {"mood": -1},
        {"mood": 11},
        {"craving": -1},
        {"craving": 11},
        {"kind": "diary"},
        {"status": "done"},
        {"number": 0},
        {"patient_id": 999},
    ],
    ids=lambda override: "-".join(f"{k}={v}" for k, v in override.items()),
)
def test_database_rejects_invalid_rows(patient_row: None, override: dict[str, object]) -> None:
    with pytest.raises(IntegrityError):
        _insert_entry(_ENTRY, **(_GOOD | override))


def test_database_accepts_boundary_ratings_and_enforces_unique_numbers(
    patient_row: None,
) -> None:
    _insert_entry(_ENTRY, **(_GOOD | {"mood": 0, "craving": 10}))
    _insert_entry(_ENTRY, **(_GOOD | {"number": 2, "mood": 10, "craving": 0}))
    with pytest.raises(IntegrityError):
        _insert_entry(_ENTRY, **_GOOD)
