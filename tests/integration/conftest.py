"""The real assistant for tests: a trained model, the Rasa server and the action server.

Both servers run as separate processes on free ports with their own SQLite file, exactly
as `make run` starts them, so these tests see what a patient would see over REST.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot import encryption, runner, settings
from bot.storage import db

MODEL = settings.PROJECT_ROOT / "models" / "current.tar.gz"


@dataclass
class Assistant:
    """A running assistant and a REST client for it."""

    services: dict[str, runner.Service]
    rest_url: str
    database_url: str

    def send(self, sender: str, message: str) -> list[dict]:
        response = requests.post(
            self.rest_url, json={"sender": sender, "message": message}, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def say(self, sender: str, message: str) -> str:
        """Send a message and return all the bot's text replies joined by newlines."""
        return "\n".join(m.get("text", "") for m in self.send(sender, message))

    def stop_action_server(self) -> None:
        runner.stop_all([self.services["actions"]])

    def start_action_server(self) -> None:
        self.services["actions"].start()
        runner.wait_until_ready(self.services["actions"])


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first (make test does).")
    workdir: Path = tmp_path_factory.mktemp("assistant")
    database_url = f"sqlite:///{workdir / 'companion.db'}"
    # One data key for the servers and for this process (which migrates, and reads what the
    # servers sealed), never the project's own var/.
    keys = {encryption.ENV_KEYS_FILE: str(workdir / "secrets" / "data.keys")}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(encryption.ENV_KEYS, raising=False)
        patch.setenv(encryption.ENV_KEYS_FILE, keys[encryption.ENV_KEYS_FILE])
        encryption.reset()
        encryption.ensure_keys_file()
        db.upgrade(database_url)
        rasa_port, action_port = runner.free_port(), runner.free_port()
        with runner.started(
            rasa_port=rasa_port,
            action_port=action_port,
            model=MODEL,
            endpoints=runner.write_endpoints(workdir / "endpoints.yml", action_port),
            env={"DATABASE_URL": database_url, **keys},
        ) as services:
            yield Assistant(
                services=services,
                rest_url=f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
                database_url=database_url,
            )
    encryption.reset()


@pytest.fixture
def sender() -> str:
    """A fresh conversation id per test, so tests never share a tracker."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def journal(assistant: Assistant, monkeypatch: pytest.MonkeyPatch):
    """bot.journal reading the same database as the running action server."""
    monkeypatch.setenv("DATABASE_URL", assistant.database_url)
    from bot import journal as journal_module

    return journal_module
