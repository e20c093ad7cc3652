"""Who may start an anonymous chat, and how many: the web app served by a real uvicorn process.

The ``Origin`` header keeps other sites' pages out, but any program can send it, and each
anonymous session is a new patient (two rows) with a chat allowance of its own. So sessions
are limited per client address and in total, and a deployment (demo mode off) has no demo
clinic and starts no anonymous sessions at all. Requests come from several loopback
addresses (127.0.0.1, 127.0.0.2, ...), which the server sees as different clients.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import base_environment, environment, serving, web_app_service

from bot.clinics import registry
from bot.patient_tokens import MESSAGES
from bot.runner import free_port
from bot.storage import db

SECRET = "anonymous-sessions-secret-0123456789abcdef0123456789"
NORTH = "https://north.example"
TIMEOUT = 15


class Served:
    """A running web app and the SQLite file it writes."""

    def __init__(self, port: int, database: Path) -> None:
        self.port = port
        self.database = database

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self, method: str, path: str, *, origin: str | None = None, source: str = "127.0.0.1"
    ) -> tuple[int, dict[str, str], Any]:
        """``method path`` from the loopback address ``source``: (status, headers, body)."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=TIMEOUT, source_address=(source, 0)
        )
        try:
            connection.request(method, path, headers={"Origin": origin} if origin else {})
            answer = connection.getresponse()
            raw = answer.read()
            headers = {name.lower(): value for name, value in answer.getheaders()}
        finally:
            connection.close()
        body: Any = raw.decode()
        if headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw)
        return answer.status, headers, body

    def start_session(self, slug: str = "demo", **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        kwargs.setdefault("origin", self.origin)
        return self.request("POST", f"/api/clinics/{slug}/anonymous-session", **kwargs)

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute(sql).fetchone()[0])


def _serve(directory: Path, extra: dict[str, str], allow_north: bool) -> Iterator[Served]:
    port = free_port()
    env = {**base_environment(directory, port, SECRET), "COMPANION_NOTIFY_INTERVAL": "0", **extra}
    db.upgrade(env["DATABASE_URL"])
    with environment(env):
        db.reset_engines()
        registry.create("north", "North clinic", origins=[NORTH], allow_anonymous=allow_north)
    db.reset_engines()
    with serving(web_app_service(port), env):
        yield Served(port, directory / "companion.db")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Demo mode off, as deploy/systemd/companion.env has it; north allows anonymous chats."""
    yield from _serve(
        tmp_path_factory.mktemp("demo-off"), {"COMPANION_DEMO_MODE": "0"}, allow_north=True
    )


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Demo mode on, at most 3 sessions per address and 5 in all (per hour)."""
    yield from _serve(
        tmp_path_factory.mktemp("limited"),
        {
            "COMPANION_DEMO_MODE": "1",
            "COMPANION_ANONYMOUS_SESSIONS_PER_IP": "3/3600",
            "COMPANION_ANONYMOUS_SESSIONS": "5/3600",
        },
        allow_north=False,
    )


# ----------------------------------------------------------------------------- demo mode off


@pytest.mark.slow
def test_with_demo_mode_off_the_demo_clinic_is_unknown_and_never_made(
    deployment: Served,
) -> None:
    status, _, body = deployment.start_session("demo")
    config_status, _, _ = deployment.request("GET", "/api/clinics/demo/widget-config")
    page_status, _, _ = deployment.request("GET", "/")

    assert (status, body) == (
        404,
        {"error": "unknown_clinic", "message": MESSAGES["unknown_clinic"]},
    )
    assert (config_status, page_status) == (404, 404)
    assert deployment.count("SELECT COUNT(*) FROM clinics WHERE slug = 'demo'") == 0
    assert deployment.count("SELECT COUNT(*) FROM patient_links") == 0


def test_with_demo_mode_off_no_clinic_starts_anonymous_sessions(deployment: Served) -> None:
    """Not even one whose settings allow them: a deployment's chats all need a link."""
    status, _, body = deployment.start_session("north", origin=NORTH)

    assert status == 403
    assert body == {"error": "anonymous_off", "message": MESSAGES["anonymous_off"]}
    assert deployment.count("SELECT COUNT(*) FROM patient_links") == 0


# ----------------------------------------------------------------------------- rate limits


@pytest.mark.slow
def test_sessions_are_limited_per_address_and_in_total(limited: Served) -> None:
    first = [limited.start_session(source="127.0.0.1") for _ in range(4)]
    assert [status for status, _, _ in first] == [200, 200, 200, 429]
    status, headers, body = first[-1]
    assert body["error"] == "rate_limited" and "988" in body["message"]
    assert int(headers["retry-after"]) >= 1

    # Another address has an allowance of its own, until the total is spent.
    assert limited.start_session(source="127.0.0.2")[0] == 200
    assert limited.start_session(source="127.0.0.3")[0] == 200
    status, headers, body = limited.start_session(source="127.0.0.4")
    assert status == 429 and body["error"] == "rate_limited"
    assert int(headers["retry-after"]) >= 1

    assert limited.count("SELECT COUNT(*) FROM patient_links WHERE kind = 'anonymous'") == 5
