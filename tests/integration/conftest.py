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
from consent_support import ConsentedSenders
from deployment import Deployment, deployed

from bot import encryption, runner


@dataclass
class Assistant:
    """A running assistant and a REST client for it."""

    services: dict[str, runner.Service]
    rest_url: str
    database_url: str
    deployment: Deployment
    consented: ConsentedSenders

    def send(self, sender: str, message: str, *, agree: bool = True) -> list[dict]:
        """``message`` from the demo conversation ``sender``, which first agrees to the consent
        text (``agree``) as a client must before anything is kept."""
        if agree:
            self.consented.ensure(sender)
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
    workdir: Path = tmp_path_factory.mktemp("assistant")
    # One data key for the servers and for this process (which migrates, and reads what the
    # servers sealed), never the project's own var/.
    keys = {encryption.ENV_KEYS_FILE: str(workdir / "secrets" / "data.keys")}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(encryption.ENV_KEYS, raising=False)
        patch.setenv(encryption.ENV_KEYS_FILE, keys[encryption.ENV_KEYS_FILE])
        encryption.reset()
        encryption.ensure_keys_file()
        # Every patient of this suite writes from this machine's one address, hundreds of
        # messages a minute: the per-address limit, which has tests of its own
        # (test_rasa_exposure.py), would refuse them.
        with deployed(workdir, {**keys, "COMPANION_IP_RATE_LIMIT": "off"}) as running:
            yield Assistant(
                services=running.services,
                rest_url=running.rest_url,
                database_url=running.database_url,
                deployment=running,
                consented=ConsentedSenders(running.rasa_url),
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
    from bot.journal import entries as journal_module

    return journal_module
