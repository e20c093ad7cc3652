"""Fixtures for the Rasa-side tests (run with .venv-rasa's Python; see pytest.ini).

They apply to the subfolders too (nlu/, chat/, safety/). The project root and tests/support
(the harnesses shared with the application's tests) are on ``sys.path`` through ``pythonpath``
in pytest.ini (and in the project's own pytest.ini, should pytest be pointed at this folder
without ``-c``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# TensorFlow (imported by Rasa and by thinc) and SQLAlchemy 1.4 are chatty at import time.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

import pg_server  # noqa: E402
from channel_server import Person, RecordingAgent, Server, new_patient  # noqa: E402

from bot.safety.detector import CrisisMatcher, default_matcher  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def data_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A key file of the test session's own for sealing conversations (never var/'s)."""
    from bot import encryption

    path = tmp_path_factory.getbasetemp() / "secrets" / "data.keys"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(encryption.ENV_KEYS, raising=False)
        patch.setenv(encryption.ENV_KEYS_FILE, str(path))
        encryption.reset()
        yield path
    encryption.reset()


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg_server.PostgresServer]:
    """A throwaway PostgreSQL server for the session (tests/support/pg_server.py), started on
    first use; each test makes a fresh database of its own on it."""
    try:
        with pg_server.running() as server:
            yield server
    except pg_server.PostgresUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def crisis_matcher() -> CrisisMatcher:
    """The matcher built from the packaged lexicon, shared like it is in the Rasa server."""
    return default_matcher()


# -- for the modules that run the patient channels (each has its own ``server`` fixture) --------


@pytest.fixture
def agent(server: Server) -> RecordingAgent:
    """The server's agent, with what earlier tests sent forgotten."""
    server.agent.clear()
    return server.agent


@pytest.fixture
def patient(server: Server) -> Person:
    """A north clinic patient of their own (for tests that use up or revoke their link)."""
    return new_patient("north")
