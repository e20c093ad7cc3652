"""Engines, sessions and schema migrations for the application database.

One engine per database URL per process, created lazily: the action server, the CLI and the
web app all reach the database through :func:`session_scope`. The schema is owned by Alembic
(``bot/storage/migrations``), configured from here so no ``alembic.ini`` at the project root
is needed; :func:`ensure_schema` lets a fresh database work without a separate setup step.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot import settings
from bot.storage.models import FOREIGN_TABLES

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
SQLITE_IMMEDIATE = "companion_sqlite_immediate"

#: The SQLite database and its companions are the service account's alone: they hold every
#: conversation. SQLite creates -wal, -shm and -journal with the database file's own mode.
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

_lock = threading.Lock()
_databases: dict[str, tuple[Engine, sessionmaker[Session]]] = {}
_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def resolve_url(url: str | URL | None = None) -> str:
    """The URL to use: the one given, or the configured ``DATABASE_URL``."""
    if url is None:
        return settings.database_url()
    if isinstance(url, URL):
        return url.render_as_string(hide_password=False)
    return url


def display_url(url: str | URL | None = None) -> str:
    """The URL with any password masked, for messages and logs."""
    return make_url(resolve_url(url)).render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(database)


def _restrict(path: Path, allowed: int) -> None:
    """Take away every permission bit of ``path`` that ``allowed`` lacks, if it is ours.

    A file owned by someone else is left alone: changing it would fail, and it is not this
    process's to change.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return
    current = stat.S_IMODE(status.st_mode)
    if status.st_uid == os.geteuid() and current & ~allowed:
        os.chmod(path, current & allowed)


def _private_sqlite_file(path: Path) -> None:
    """Make the database file before SQLite does, readable and writable by its owner only.

    SQLite would create it with the umask's mode (usually 0644, readable by every local
    user), and gives the -wal and -shm files it creates later the database file's mode, so
    creating the file with 0600 first keeps all three private. A folder made here is 0700.
    An existing folder is tightened only if it is the app's own ``var/``: a folder the
    operator chose may be shared with others who need it. Files an earlier version left
    readable are closed now.
    """
    folder = path.parent
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER_MODE)
    if created:
        os.chmod(folder, PRIVATE_FOLDER_MODE)
    elif folder.resolve() == Path(settings.VAR_DIR).resolve():
        _restrict(folder, PRIVATE_FOLDER_MODE)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        _restrict(file, PRIVATE_FILE_MODE)


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like the server databases we rely on elsewhere.

    - foreign keys are off by default in SQLite;
    - WAL lets the Rasa server, the action server and the web app read while one writes;
    - ``busy_timeout`` makes a writer wait for the lock instead of failing at once;
    - ``secure_delete`` overwrites deleted and replaced rows with zeros, so erased patient
      data (and text from before it was sealed) does not linger in free pages of the file;
    - pysqlite's own transaction handling is replaced by explicit ``BEGIN`` statements
      (SQLAlchemy's documented recipe), so a write transaction can take the write lock up
      front with ``BEGIN IMMEDIATE``. Without that, two writers that both read "the next
      entry number" before writing would deadlock or collide instead of queueing.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 5000")
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlalchemy_url(url: str) -> URL:
    """``url`` with the driver this environment has for it.

    ``DATABASE_URL`` is written without a driver (``postgresql://...``), and the Rasa
    server's environment reads it with psycopg2 (see ``bot.chat.tracker_store.engine_url``).
    SQLAlchemy 2 would pick psycopg2 too, which is not installed here: this side uses
    psycopg 3. ``postgres://`` (an older spelling some hosts hand out) is read the same way;
    an explicitly named driver is kept.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def _create_engine(url: str) -> Engine:
    parsed = sqlalchemy_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            _private_sqlite_file(path)
        engine = create_engine(parsed, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    # hide_parameters: errors (logged, shown in tracebacks) never quote the values of a
    # statement, which are often what a patient wrote.
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def _database(url: str | URL | None) -> tuple[Engine, sessionmaker[Session]]:
    key = resolve_url(url)
    with _lock:
        database = _databases.get(key)
        if database is None:
            engine = _create_engine(key)
            database = (engine, sessionmaker(bind=engine, expire_on_commit=False))
            _databases[key] = database
        return database


def get_engine(url: str | URL | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    return _database(url)[0]


def reset_engines() -> None:
    """Dispose every cached engine and forget which schemas were checked.

    For tests that point ``DATABASE_URL`` at a new file, and for code that forks.
    """
    with _lock:
        engines = [engine for engine, _ in _databases.values()]
        _databases.clear()
        _schema_ready.clear()
    for engine in engines:
        engine.dispose()


@contextmanager
def session_scope(url: str | URL | None = None, *, write: bool = True) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any exception.

    ``write=True`` (the default) takes SQLite's write lock when the transaction starts, so
    read-then-write sequences (the next entry number, get-or-create of a patient) cannot be
    interleaved by another process. Pass ``write=False`` for pure reads, which then never
    wait for a writer. Other databases ignore the flag.
    """
    session = _database(url)[1]()
    if write:
        session.connection(execution_options={SQLITE_IMMEDIATE: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Alembic filter at reflection time: never look at tables that are not ours."""
    if type_ == "table":
        return name not in FOREIGN_TABLES
    return parent_names.get("table_name") not in FOREIGN_TABLES


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter on schema objects: never create, alter or drop what is not ours."""
    if type_ == "table":
        return name not in FOREIGN_TABLES
    table = getattr(obj, "table", None)
    return getattr(table, "name", None) not in FOREIGN_TABLES


def alembic_config(url: str | URL | None = None) -> Any:
    """An Alembic ``Config`` for this package's migrations, bound to ``url``.

    Imported lazily so that importing :mod:`bot.storage.db` does not pull in Alembic.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = resolve_url(url)
    return config


def upgrade(url: str | URL | None = None, revision: str = "head") -> None:
    """Run the migrations on ``url`` (default: the configured database) up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str | URL | None = None) -> str | None:
    """The Alembic revision the database is at, or ``None`` if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest Alembic revision this code knows: what :func:`upgrade` brings a database to."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("No migrations found.")
    return head


def ensure_schema(url: str | URL | None = None) -> None:
    """Bring the schema to the latest revision once per process and database.

    The first call runs :func:`upgrade` (a no-op on an up-to-date database, and safe to run
    from several processes at once); later calls return immediately, so services can call
    this at the top of every operation.
    """
    key = resolve_url(url)
    if key in _schema_ready:
        return
    with _schema_lock:
        if key in _schema_ready:
            return
        upgrade(key)
        _schema_ready.add(key)
