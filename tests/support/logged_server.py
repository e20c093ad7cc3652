"""The seeded web app as a real uvicorn process whose stdout and stderr are kept in files.

:func:`servers.serving` lets a server write to the test's own output; the tests of what the
app logs and of the headers on its error pages need that output, so here it goes to
``web.stdout`` and ``web.stderr`` in the server's directory.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from dashboard_seed import seed
from servers import SeededServer, base_environment, web_app_service

from bot import encryption
from bot.runner import Service, free_port, stop_all, wait_until_ready
from bot.settings import PROJECT_ROOT
from bot.storage import db


@dataclass
class LoggedServer(SeededServer):
    service: Service
    directory: Path

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return "".join(
            (self.directory / f"web.{stream}").read_text(encoding="utf-8", errors="replace")
            for stream in ("stdout", "stderr")
        )


def start_with_output_in(service: Service, directory: Path) -> None:
    """Start ``service`` like :meth:`Service.start`, with stdout and stderr kept in files."""
    with (
        (directory / "web.stdout").open("wb") as stdout,
        (directory / "web.stderr").open("wb") as stderr,
    ):
        service.process = subprocess.Popen(
            service.command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **service.env},
            start_new_session=True,
            stdout=stdout,
            stderr=stderr,
        )


@contextmanager
def logged_server(directory: Path, secret: str) -> Iterator[LoggedServer]:
    """Seed a database in ``directory`` with the server's own keys, then serve it as
    ``make run`` does (INFO logging); risk-flag notifications are off."""
    port = free_port()
    env = {
        **base_environment(directory, port, secret),
        "COMPANION_NOTIFY_INTERVAL": "0",
        encryption.ENV_KEYS_FILE: str(directory / "data.keys"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        info = seed(env["DATABASE_URL"])
    db.reset_engines()
    service = web_app_service(port)
    service.env.update(env)
    start_with_output_in(service, directory)
    try:
        wait_until_ready(service, timeout=90)
        yield LoggedServer(
            url=f"http://127.0.0.1:{port}",
            env=env,
            info=info,
            database=directory / "companion.db",
            service=service,
            directory=directory,
        )
    finally:
        stop_all([service])
