"""The patient channels on a real Sanic server, with settings of the test's choosing.

Both channels are registered the way ``rasa run`` does (``channel.register``) and served on
a free port in a background thread. The database is a SQLite file with the project's
migrations, and its clinics, patients and links are made by the application's own code
(``bot.clinics.registry``, ``bot.clinics.patients`` in the application environment), so the
tokens are the ones a clinic hands out. Instead of a trained model, the agent answers every
message with ``echo: <text>`` and records what reached it. A context manager, so each test
module can start it with its own environment (a lowered rate limit, say) and agent.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels import channel
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot import patient_tokens
from bot.chat.patient_channel import PatientRestInput, PatientSocketIOInput

SECRET = "patient-channel-test-secret-of-32-bytes-or-more"
DEMO = "http://localhost:8000"  # the demo clinic's origin for COMPANION_PUBLIC_WEB_URL below
APP_PYTHON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"

SEED = """
import json, sys
from datetime import timedelta
from bot import patient_consent
from bot.clinics import patients, registry

registry.ensure_demo_clinic()
registry.create("north", "North clinic", origins=["https://north.example"])
registry.create("south", "South clinic", origins=["https://south.example:8443"])
people = {}
for name, clinic in [("north_a", "north"), ("north_b", "north"), ("south_a", "south"),
                     ("demo_a", "demo"), ("revoked", "north")]:
    invite = patients.invite(clinic, timedelta(days=1))
    patient_consent.record(invite.sender_id, clinic, 1)  # as their widget did: "I agree"
    people[name] = {"sender_id": invite.sender_id, "clinic": clinic,
                    "token": invite.token, "link_id": invite.link_id}
patients.revoke(link_id=people["revoked"]["link_id"])
json.dump(people, sys.stdout)
"""

INVITE = """
import json, sys
from datetime import timedelta
from bot import patient_consent
from bot.clinics import patients

invite = patients.invite(sys.argv[1], timedelta(days=1))
patient_consent.record(invite.sender_id, sys.argv[1], 1)  # as their widget did: "I agree"
json.dump({"sender_id": invite.sender_id, "clinic": sys.argv[1], "token": invite.token,
           "link_id": invite.link_id}, sys.stdout)
"""


@dataclass(frozen=True)
class Person:
    sender_id: str
    clinic: str
    token: str
    link_id: str


def run_app_code(code: str, *args: str) -> Any:
    """Run ``code`` with the application's Python (SQLAlchemy 2, bot.clinics.registry and
    bot.clinics.patients)."""
    if not APP_PYTHON.exists():
        pytest.fail(f"{APP_PYTHON} is missing: `make install` creates it")
    result = subprocess.run(
        [str(APP_PYTHON), "-c", code, *args],
        env={**os.environ, "PYTHONPATH": str(APP_PYTHON.parents[2])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"application code failed:\n{result.stderr}")
    return json.loads(result.stdout)


def new_patient(clinic: str = "north") -> Person:
    """A patient of their own (a fresh link), for tests that use up or revoke what they have."""
    return Person(**run_app_code(INVITE, clinic))


@dataclass
class RecordingAgent:
    """Stands where Rasa's Agent is: records each message and answers ``echo: <text>``."""

    messages: list[UserMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_message(self, message: UserMessage) -> None:
        with self.lock:
            self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    def received(self) -> list[tuple[str, str, dict[str, Any] | None, str | None]]:
        with self.lock:
            return [(m.sender_id, m.text, m.metadata, m.input_channel) for m in self.messages]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@dataclass
class Server:
    url: str
    agent: RecordingAgent
    people: dict[str, Person]

    @property
    def rest(self) -> str:
        return f"{self.url}/webhooks/rest/webhook"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def channel_server(
    workdir: Path, env: dict[str, str] | None = None, agent: RecordingAgent | None = None
) -> Iterator[Server]:
    """Serve both channels on a free port until the block ends; ``env`` is set meanwhile.

    ``agent`` stands where Rasa's Agent is (default: one that echoes every message).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{workdir / 'companion.db'}")
        patch.setenv("COMPANION_TOKEN_SECRET", SECRET)
        patch.setenv("COMPANION_PUBLIC_WEB_URL", DEMO)
        patch.setenv("COMPANION_DEMO_CLINIC", "demo")
        patch.setenv("COMPANION_DEMO_MODE", "1")
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        people = {name: Person(**fields) for name, fields in run_app_code(SEED).items()}
        patient_tokens.reset()

        Sanic.test_mode = True
        app = Sanic(f"channel-{uuid.uuid4().hex[:8]}")
        agent = agent or RecordingAgent()
        app.ctx.agent = agent
        socket_channel = PatientSocketIOInput.from_credentials(
            {
                "user_message_evt": "user_uttered",
                "bot_message_evt": "bot_uttered",
                "session_persistence": True,
            }
        )
        channel.register([PatientRestInput(), socket_channel], app, route="/webhooks/")

        port = _free_port()
        started = threading.Event()
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            running = loop.run_until_complete(
                app.create_server(
                    host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
                )
            )
            loop.run_until_complete(running.startup())
            loop.run_until_complete(running.before_start())
            loop.run_until_complete(running.after_start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(running.before_stop())
            running.close()
            loop.run_until_complete(running.wait_closed())
            loop.run_until_complete(running.after_stop())

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        assert started.wait(60), "the Sanic server did not start"
        try:
            yield Server(url=f"http://127.0.0.1:{port}", agent=agent, people=people)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            patient_tokens.reset()
