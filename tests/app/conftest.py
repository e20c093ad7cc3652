"""Fixtures for the application's tests: every test gets a database of its own.

That is a fresh SQLite file by default. Modules (or tests) marked
``@pytest.mark.databases("sqlite", "postgresql")`` run once on each: on PostgreSQL every test
gets a fresh database on one throwaway server per session (``tests/support/pg_server.py``),
made by copying a template, which takes a fraction of a second where a server takes seconds.
Module-scoped fixtures that seed a database once (``database_backend`` is module-scoped for
that) make theirs with ``new_database``. The helpers these tests import by name
(``action_support``, ``servers``, ...) are in tests/support/, which pytest.ini puts on the path.

This file applies to every subfolder of tests/app. Test modules import ``NewDatabase``,
``CliRun`` and ``one_line_error`` from it by the name ``conftest``, so the subfolders keep no
conftest.py of their own (it would take that name).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import action_support
import pg_server
import pytest
from rasa_sdk.executor import CollectingDispatcher
from servers import Browser, SeededServer, point_at, seeded_server

from bot import encryption
from bot.storage import db

BACKENDS = ("sqlite", "postgresql")
#: The template every ``migrated`` PostgreSQL database is copied from (migrated once per session).
MIGRATED_TEMPLATE = "companion_migrated"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "databases(*backends): run the test once per database backend "
        f"({', '.join(BACKENDS)}); without it, SQLite only",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("databases")
    if marker is None or "database_backend" not in metafunc.fixturenames:
        return
    unknown = set(marker.args) - set(BACKENDS)
    if unknown or not marker.args:
        raise pytest.UsageError(f"databases(...) takes some of {BACKENDS}, not {marker.args}")
    # The PostgreSQL runs carry the ``postgresql`` mark, so that `make check` can leave them out.
    backends = [
        pytest.param(name, marks=pytest.mark.postgresql) if name == "postgresql" else name
        for name in marker.args
    ]
    metafunc.parametrize("database_backend", backends, indirect=True, scope="module")


@pytest.fixture(scope="module")
def database_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: which database the test runs on (see the module doc)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg_server.PostgresServer]:
    """The session's PostgreSQL server, started on first use and stopped at the end."""
    try:
        with pg_server.running() as server:
            yield server
    except pg_server.PostgresUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def migrated_template(postgres_server: pg_server.PostgresServer) -> str:
    """A database migrated to the latest revision by the migrations themselves, left
    without connections so that it can be copied."""
    postgres_server.drop_database(MIGRATED_TEMPLATE)
    url = postgres_server.create_database(MIGRATED_TEMPLATE)
    db.upgrade(url)
    db.get_engine(url).dispose()
    return MIGRATED_TEMPLATE


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the latest revision once per session; ``migrated`` copies it
    (running the migrations for every test would cost a third of a second each)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    db.get_engine(url).dispose()
    return path


def copy_sqlite(template: Path, url: str) -> None:
    """Write ``template``'s schema and rows to ``url``'s SQLite file (made with its folder),
    through SQLite's backup API, which copies a consistent state whatever the journal mode."""
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    source, target = sqlite3.connect(template), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


NewDatabase = Callable[..., str]


@pytest.fixture(scope="module")
def new_database(database_backend: str, request: pytest.FixtureRequest) -> Iterator[NewDatabase]:
    """``new_database(sqlite_path, migrated=False)``: the URL of a new database on this
    module's backend; on SQLite, a file at ``sqlite_path``. PostgreSQL databases made here
    are dropped when the module ends."""
    made: list[str] = []
    server: pg_server.PostgresServer | None = None

    def make(sqlite_path: Path, *, migrated: bool = False) -> str:
        nonlocal server
        if database_backend == "sqlite":
            url = f"sqlite:///{sqlite_path}"
            if migrated:
                copy_sqlite(request.getfixturevalue("sqlite_template"), url)
            return url
        server = request.getfixturevalue("postgres_server")
        template = request.getfixturevalue("migrated_template") if migrated else "template1"
        url = server.create_database(template=template)
        made.append(url.rsplit("/", 1)[1])
        return url

    yield make
    db.reset_engines()
    if server is not None:
        for name in made:
            server.drop_database(name)


@pytest.fixture(autouse=True, scope="session")
def data_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The test session seals patient text with its own key file (made on first use, 0600),
    never the developer's; servers and CLI processes started by tests inherit it through the
    environment. Session-wide, so that data seeded once per module opens in every test."""
    path = tmp_path_factory.mktemp("secrets") / "data.keys"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(encryption.ENV_KEYS, raising=False)
        patch.setenv(encryption.ENV_KEYS_FILE, str(path))
        encryption.reset()
        yield path
    encryption.reset()


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    """Where the test database lives; the ``var/`` folder does not exist yet on purpose."""
    return tmp_path / "var" / "companion.db"


@pytest.fixture
def fresh_database(
    database_backend: str, database_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """An empty database of the test's own (a PostgreSQL one is dropped afterwards)."""
    if database_backend == "sqlite":
        yield f"sqlite:///{database_path}"
        return
    server: pg_server.PostgresServer = request.getfixturevalue("postgres_server")
    template = "template1"
    if "migrated" in request.fixturenames:
        template = request.getfixturevalue("migrated_template")
    url = server.create_database(template=template)
    try:
        yield url
    finally:
        db.reset_engines()
        server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def database_url(fresh_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point ``DATABASE_URL`` at the test's fresh database and forget every cached engine."""
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    monkeypatch.delenv("COMPANION_DEMO_CLINIC", raising=False)
    db.reset_engines()
    yield fresh_database
    db.reset_engines()


@pytest.fixture
def migrated(database_url: str, database_backend: str, request: pytest.FixtureRequest) -> str:
    """A fresh database with the schema at the latest revision: a copy of one the migrations
    brought there once per session (on PostgreSQL, see ``fresh_database``)."""
    if database_backend == "sqlite":
        copy_sqlite(request.getfixturevalue("sqlite_template"), database_url)
    elif db.current_revision() is None:
        db.upgrade()
    return database_url


#: The signing key of every test that issues or verifies patient tokens.
TEST_TOKEN_SECRET = "test-secret-0123456789abcdef0123456789abcdef"
#: The web app's public address in tests that do not start it.
TEST_PUBLIC_WEB_URL = "https://companion.example"
TEST_PUBLIC_RASA_URL = "https://chat.companion.example"


@pytest.fixture
def clinic_db(migrated: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database plus the settings that clinics and patient tokens read.

    :mod:`bot.patient_tokens` keeps its own engines and an origin cache; both are forgotten before
    and after the test so that no test sees another test's database.
    """
    from bot import patient_tokens

    monkeypatch.setenv("COMPANION_TOKEN_SECRET", TEST_TOKEN_SECRET)
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", TEST_PUBLIC_WEB_URL)
    monkeypatch.setenv("COMPANION_PUBLIC_RASA_URL", TEST_PUBLIC_RASA_URL)
    monkeypatch.delenv("COMPANION_DEMO_MODE", raising=False)
    patient_tokens.reset()
    yield migrated
    patient_tokens.reset()


# --------------------------------------------------------------------------- the custom actions


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    """The bot's ``domain.yml``, as the action server is given it."""
    return action_support.load_domain()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    """Collects what an action says, for the test to read back (``action_support.responses``)."""
    return CollectingDispatcher()


@pytest.fixture
def journal_db(database_url: str) -> str:
    """A fresh journal (``DATABASE_URL`` points at it); its URL, to read it back."""
    return database_url


@pytest.fixture
def broken_journal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_backend: str,
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    """A journal that cannot be opened: the SQLite file's folder is a regular file, or the
    PostgreSQL database does not exist."""
    if database_backend == "sqlite":
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("", encoding="utf-8")
        unusable = f"sqlite:///{blocker / 'companion.db'}"
    else:
        unusable = request.getfixturevalue("postgres_server").url("no_such_database")
    monkeypatch.setenv("DATABASE_URL", unusable)
    db.reset_engines()
    yield
    db.reset_engines()


_REFUSING_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'writes refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'writes refused'; END $$",
        "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION refuse_{table}()",
    ],
}


@pytest.fixture
def refusing_journal(migrated: str, database_backend: str) -> str:
    """A journal whose database refuses every write, with an error quoting the statement.

    Database errors carry the statement's parameters — here, what the person wrote — so
    this is the failure that would leak patient text into the logs if an action logged
    the exception itself.
    """
    with db.get_engine(migrated).begin() as connection:
        for table in ("journal_entries", "risk_flags"):
            for statement in _REFUSING_TRIGGERS[database_backend]:
                connection.exec_driver_sql(statement.format(table=table))
    return migrated


@pytest.fixture(params=["broken_journal", "refusing_journal"])
def failing_journal(request: pytest.FixtureRequest, database_backend: str) -> None:
    """Each way the journal can fail: unreachable, or refusing the write."""
    request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- the command line

CliRun = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_cli(tmp_path: Path) -> CliRun:
    """``run_cli(*args, stdin="")``: ``python -m bot ARGS`` in a process of its own, as an
    operator runs it, on the test's database and keys (inherited through the environment),
    with a ``var/`` of its own; never raises on a failing command, so tests read its result."""
    from bot.settings import PROJECT_ROOT

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(PROJECT_ROOT),
                "COMPANION_VAR_DIR": str(tmp_path / "var"),
            },
            input=stdin,
            capture_output=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    return run


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a command that failed as the command line promises: exit status 1,
    one line on stderr, no traceback, nothing on stdout."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


# ----------------------------------------------------------------------------- the seeded dashboard
# A real uvicorn process per test module on a database of its own (SQLite or PostgreSQL, as
# the module's ``databases`` mark says), filled by ``dashboard_seed``, and a signed-in browser
# for each seeded clinic. A module that needs another set-up defines its own ``server``.

DASHBOARD_SEED_SECRET = "dashboard-seed-secret-0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[..., str],
) -> Iterator[SeededServer]:
    directory = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    url = new_database(directory / "companion.db")
    with seeded_server(directory, DASHBOARD_SEED_SECRET, database_url=url) as running:
        yield running


@pytest.fixture
def web(server: SeededServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededServer]:
    """The running app, with this process pointed at the same database and key."""
    yield from point_at(server, monkeypatch)


@pytest.fixture
def harbour(web: SeededServer) -> Browser:
    """Harbour's therapist, signed in."""
    return Browser(web).sign_in(web.info.therapist)


@pytest.fixture
def northside(web: SeededServer) -> Browser:
    """Northside's therapist, signed in."""
    return Browser(web).sign_in(web.info.other_therapist)
