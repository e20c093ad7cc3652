"""Fixtures for the application's tests: every test gets its own real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import encryption
from bot.storage import db


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


#: The signing key of every test that issues or verifies patient tokens.
TEST_TOKEN_SECRET = "test-secret-0123456789abcdef0123456789abcdef"
#: The web app's public address in tests that do not start it.
TEST_PUBLIC_WEB_URL = "https://companion.example"
TEST_PUBLIC_RASA_URL = "https://chat.companion.example"


@pytest.fixture
def clinic_db(migrated: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database plus the settings that clinics and patient tokens read.

    :mod:`bot.access` keeps its own engines and an origin cache; both are forgotten before
    and after the test so that no test sees another test's database.
    """
    from bot import access

    monkeypatch.setenv("COMPANION_TOKEN_SECRET", TEST_TOKEN_SECRET)
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", TEST_PUBLIC_WEB_URL)
    monkeypatch.setenv("COMPANION_PUBLIC_RASA_URL", TEST_PUBLIC_RASA_URL)
    monkeypatch.delenv("COMPANION_DEMO_MODE", raising=False)
    access.reset()
    yield migrated
    access.reset()
