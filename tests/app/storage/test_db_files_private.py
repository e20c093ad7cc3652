"""The SQLite database holds every conversation: only the account that runs the servers may
read it, its write-ahead log (-wal) and shared memory (-shm) included, whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import settings
from bot.storage import db


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual default: new files readable by everyone unless the code says otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def fresh_engines() -> Iterator[None]:
    db.reset_engines()
    yield
    db.reset_engines()


def write_something(url: str) -> None:
    """A migrated schema and a write, leaving the engine open so -wal and -shm exist."""
    db.upgrade(url)
    with db.get_engine(url).begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        connection.execute(text("INSERT INTO probe VALUES (1)"))


@pytest.mark.usefixtures("loose_umask", "fresh_engines")
def test_a_new_database_and_its_folder_are_the_owners_alone(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    database = folder / "companion.db"
    url = f"sqlite:///{database}"

    write_something(url)

    wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
    assert wal.exists() and shm.exists()
    assert mode(folder) == 0o700
    assert {path.name: mode(path) for path in (database, wal, shm)} == {
        "companion.db": 0o600,
        "companion.db-wal": 0o600,
        "companion.db-shm": 0o600,
    }


@pytest.mark.usefixtures("loose_umask", "fresh_engines")
def test_files_left_readable_by_an_earlier_version_are_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's own var/ folder and the files in it, as an older version left them (0755 and
    0644), are closed to other users the next time the app opens the database."""
    folder = tmp_path / "var"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    monkeypatch.setattr(settings, "VAR_DIR", folder)
    database = folder / "companion.db"
    legacy = sqlite3.connect(database)
    legacy.execute("PRAGMA journal_mode = WAL")
    legacy.execute("CREATE TABLE old (x INTEGER)")
    legacy.commit()
    wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
    assert (mode(folder), mode(database), mode(wal), mode(shm)) == (0o755, 0o644, 0o644, 0o644)

    write_something(f"sqlite:///{database}")
    legacy.close()

    assert mode(folder) == 0o700
    assert (mode(database), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)


@pytest.mark.usefixtures("loose_umask", "fresh_engines")
def test_a_folder_the_operator_chose_is_left_as_it_is(tmp_path: Path) -> None:
    """Only a folder the app made, or its own var/, is changed: a database placed in a shared
    folder (/srv, a home directory) must not lock others out of that folder."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    database = shared / "companion.db"

    write_something(f"sqlite:///{database}")

    assert mode(shared) == 0o755
    assert mode(database) == 0o600
