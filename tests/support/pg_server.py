"""A throwaway PostgreSQL server for tests, started from Debian's server binaries.

Both test environments import this module (the application's ``.venv`` on Python 3.11 and
the Rasa server's ``.venv-rasa`` on 3.10), which have different SQLAlchemy versions and
different PostgreSQL drivers; so it uses the standard library only and talks to the server
through ``psql``. One server per test session: starting one takes a couple of seconds, while
a fresh database on it (``CREATE DATABASE ... TEMPLATE``) a fraction of a second, so
tests get a database each, never a server each.

``COMPANION_TEST_POSTGRES_URL`` names an existing server instead (a superuser's URL); the
databases are then made on it and nothing is started or stopped.

PostgreSQL refuses to run as root: when the tests run as root, the server runs as the
``postgres`` user (``runuser``), with its files in a folder of their own under the system's
temporary folder (pytest's folders are private to root).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV_URL = "COMPANION_TEST_POSTGRES_URL"
USER = "companion"
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the server would not start."""


def bin_dir() -> Path | None:
    """Where initdb, pg_ctl and psql are: on PATH, or in Debian's versioned folder."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _psql_binary(binaries: Path | None) -> str:
    for candidate in ([binaries / "psql"] if binaries else []) + [shutil.which("psql")]:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise PostgresUnavailable("psql not found: `make postgres-server` installs PostgreSQL")


class PostgresServer:
    """A running server, reached over TCP on 127.0.0.1 as a superuser."""

    def __init__(self, url: str, psql: str, *, data_dir: Path | None = None) -> None:
        self.admin_url = url
        self._psql = psql
        self._data_dir = data_dir
        self._copy_clause: str | None = None

    def url(self, database: str) -> str:
        """The ``postgresql://`` URL of ``database`` on this server (no driver named, as
        DATABASE_URL is written; each environment picks its own driver)."""
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with ``psql`` and return its unaligned output."""
        result = subprocess.run(
            [self._psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database)],
            input=statement,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self, name: str | None = None, *, template: str = "template1") -> str:
        """A new empty database (a copy of ``template``); its URL. Names are generated
        unless given, so concurrent sessions on one shared server do not collide."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        for identifier in (name, template):
            if not _NAME.match(identifier):
                raise ValueError(f"not a plain database name: {identifier!r}")
        if self._copy_clause is None:
            # PostgreSQL 15's default copies the template through the write-ahead log, at
            # twice the time of copying its files (durability is off here anyway).
            version = int(self.sql("SHOW server_version_num"))
            self._copy_clause = " STRATEGY FILE_COPY" if version >= 150000 else ""
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{self._copy_clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connection still open to it (a test's pool, a server
        it started)."""
        if not _NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @property
    def data_dir(self) -> Path | None:
        """The server's data folder (``None`` for a server we did not start)."""
        return self._data_dir

    @property
    def log(self) -> str:
        """The server's log (empty for a server we did not start)."""
        if self._data_dir is None:
            return ""
        path = self._data_dir.parent / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running() -> Iterator[PostgresServer]:
    """A server for the duration of the ``with`` block: ``COMPANION_TEST_POSTGRES_URL``'s,
    or a new one in a temporary folder that is stopped and deleted afterwards."""
    given = os.environ.get(ENV_URL)
    binaries = bin_dir()
    if given:
        yield PostgresServer(given, _psql_binary(binaries))
        return
    if binaries is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "`make postgres-server` installs them"
        )
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="companion-test-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()

    def run(*command: str) -> None:
        result = subprocess.run(
            [*as_postgres, *command], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            log = root / "server.log"
            raise PostgresUnavailable(
                f"{Path(command[0]).name} failed: {result.stderr.strip()}\n"
                + (log.read_text(errors="replace") if log.exists() else "")
            )

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "--no-sync")
        # Durability is off: the data is thrown away, and fsync on a shared CI disk would
        # dominate the tests' time. In the configuration file rather than on the command
        # line, so that ALTER SYSTEM can switch it back on (a benchmark does).
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        log = str(root / "server.log")
        run(
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            log,
            "-w",
            "-t",
            "60",
            "start",
            "-o",
            options,
        )
        try:
            yield PostgresServer(
                f"postgresql://{USER}@127.0.0.1:{port}/postgres",
                _psql_binary(binaries),
                data_dir=data,
            )
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
