"""Fixtures for the application's tests: every test gets its own real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage import db


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    """Where the test database lives; the ``var/`` folder does not exist yet on purpose."""
    return tmp_path / "var" / "companion.db"


@pytest.fixture
def database_url(database_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point ``DATABASE_URL`` at a fresh SQLite file and forget every cached engine."""
    url = f"sqlite:///{database_path}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("COMPANION_DEMO_CLINIC", raising=False)
    db.reset_engines()
    yield url
    db.reset_engines()


@pytest.fixture
def migrated(database_url: str) -> str:
    """A fresh database with the schema at the latest revision."""
    db.upgrade()
    return database_url
