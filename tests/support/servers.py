"""The web app as a real uvicorn process, for the tests that talk to it over HTTP."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import requests
from dashboard_seed import SeededTherapist, SeedInfo, seed

from bot import encryption, patient_tokens
from bot.runner import Service, free_port, services, stop_all, wait_until_ready
from bot.settings import PROJECT_ROOT
from bot.storage import db

#: The dashboard's Content-Security-Policy, written out here so that a change to the app's
#: own constant shows up as a failing test.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def base_environment(
    directory: Path, port: int, secret: str, *, database_url: str | None = None
) -> dict[str, str]:
    """What every served app in these tests needs: its own database (a SQLite file in
    ``directory`` unless ``database_url`` names one), key, address and var/."""
    return {
        "DATABASE_URL": database_url or f"sqlite:///{directory / 'companion.db'}",
        "COMPANION_TOKEN_SECRET": secret,
        "COMPANION_PUBLIC_WEB_URL": f"http://127.0.0.1:{port}",
        "COMPANION_VAR_DIR": str(directory / "var"),
        encryption.ENV_KEYS_FILE: str(directory / "var" / "secrets" / "data.keys"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Run the block in this process with ``env`` set (e.g. to seed a server's database with
    the server's own data key), then put the environment back."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def web_app_service(port: int) -> Service:
    """The web app as ``make run`` starts it (the runner's own command), on ``port``."""
    (service,) = [s for s in services(web_port=port) if s.name == "web app"]
    return service


@contextmanager
def serving(service: Service, env: dict[str, str] | None = None) -> Iterator[Service]:
    """Run ``service`` with ``env`` added to its environment until the block ends."""
    if env:
        service.env.update(env)
    service.start()
    try:
        wait_until_ready(service, timeout=90)
        yield service
    finally:
        stop_all([service])


class _Served(Protocol):
    env: dict[str, str]


ServedT = TypeVar("ServedT", bound=_Served)


def point_at(server: ServedT, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedT]:
    """Yield ``server`` with this process pointed at its database, key and address.

    :mod:`bot.patient_tokens` and :mod:`bot.storage.db` cache engines, so both are forgotten before
    and after.
    """
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    db.reset_engines()
    patient_tokens.reset()
    yield server
    db.reset_engines()
    patient_tokens.reset()


# ----------------------------------------------------------------------------- the dashboard

HTTP_TIMEOUT = 30
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class SeededServer:
    """The web app serving a database filled by :func:`dashboard_seed.seed`."""

    url: str
    env: dict[str, str]
    info: SeedInfo
    database: Path  # the SQLite file, when the database is one

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]


@contextmanager
def seeded_server(
    directory: Path, secret: str, *, database_url: str | None = None
) -> Iterator[SeededServer]:
    """Seed a database (a SQLite file in ``directory`` unless ``database_url`` names an
    empty one), then serve it (notifications switched off)."""
    port = free_port()
    env = {
        **base_environment(directory, port, secret, database_url=database_url),
        "COMPANION_NOTIFY_INTERVAL": "0",
    }
    with environment(env):
        info = seed(env["DATABASE_URL"])
    db.reset_engines()
    with serving(web_app_service(port), env):
        yield SeededServer(
            url=f"http://127.0.0.1:{port}", env=env, info=info, database=directory / "companion.db"
        )


class Browser:
    """A requests session that signs in through the login form, like a browser."""

    def __init__(self, server: SeededServer) -> None:
        self.server = server
        self.http = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(
            self.server.url + path, timeout=HTTP_TIMEOUT, allow_redirects=False, **kwargs
        )

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(
            self.server.url + path, timeout=HTTP_TIMEOUT, allow_redirects=False, **kwargs
        )

    def csrf_token(self, path: str) -> str:
        """The ``csrf_token`` of the first form on the page at ``path``."""
        return _CSRF_FIELD.search(self.get(path).text).group(1)

    def sign_in(self, account: SeededTherapist) -> Browser:
        token = self.csrf_token("/therapist/login")
        response = self.post(
            "/therapist/login",
            data={"email": account.email, "password": account.password, "csrf_token": token},
        )
        assert response.status_code == 303, response.text
        return self


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.update(name for name, _ in attrs)


def attribute_names(html: str) -> set[str]:
    """Every attribute name of every element, as a browser's parser reads the page."""
    parser = _Attributes()
    parser.feed(html)
    return parser.names
