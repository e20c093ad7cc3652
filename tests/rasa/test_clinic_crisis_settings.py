"""The Rasa server reads a clinic's crisis settings (bot.patient_tokens.clinic_crisis_settings) with
SQLAlchemy 1.4, from a database the application (SQLAlchemy 2) migrated and filled, on SQLite
and PostgreSQL; the pure bot.safety.clinic_lines then picks the lines for each reply."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pg_server
import pytest
import sqlalchemy

from bot import patient_tokens
from bot.safety import clinic_lines

pytestmark = pytest.mark.slow

CREATE = """
from bot.clinics import registry
from bot.storage import db
db.upgrade()
registry.create(
    "thameside", "Thameside", origins=["https://thameside.example"],
    crisis_lines=[
        {"name": "Emergency services", "number": "999"},
        {"name": "Samaritans", "number": "116 123", "detail": "free, day or night",
         "kinds": ["suicide", "ask"]},
    ],
    emergency_number="999", response_time="by the next working day", peer_support_line=True,
)
registry.create("north", "North", origins=["https://north.example"])
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    project_root: Path,
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'companion.db'}"
    else:
        server: pg_server.PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
    monkeypatch.setenv("DATABASE_URL", url)
    subprocess.run(
        [str(project_root / ".venv" / "bin" / "python"), "-c", CREATE],
        cwd=project_root,
        env={**os.environ, "PYTHONPATH": str(project_root)},
        check=True,
        timeout=120,
    )
    patient_tokens.reset()
    yield url
    patient_tokens.reset()


def test_the_settings_read_with_sqlalchemy_1_4(database: str) -> None:
    assert sqlalchemy.__version__.startswith("1.4")

    thameside = patient_tokens.clinic_crisis_settings("thameside")

    assert thameside == {
        "emergency_number": "999",
        "response_time": "by the next working day",
        "crisis_lines": [
            {"name": "Emergency services", "number": "999"},
            {
                "name": "Samaritans",
                "number": "116 123",
                "detail": "free, day or night",
                "kinds": ["suicide", "ask"],
            },
        ],
        "peer_support_line": True,
    }
    assert clinic_lines.lines_for("suicide", thameside) == [
        {"name": "Samaritans", "number": "116 123", "detail": "free, day or night"}
    ]
    assert patient_tokens.clinic_crisis_settings("north") == clinic_lines.default_settings()
    assert patient_tokens.clinic_crisis_settings("nowhere") is None
