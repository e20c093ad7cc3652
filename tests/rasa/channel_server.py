"""The patient channels on a real Sanic server, with settings of the test's choosing.

The same arrangement as the ``server`` fixture of test_patient_channel.py (both channels
registered the way ``rasa run`` does, a SQLite file with the project's migrations, clinics and
links made by the application's own code, an agent that answers ``echo: <text>``), as a
context manager, so a test module can start it with its own environment (a lowered rate
limit, say).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rasa.core.channels import channel
from sanic import Sanic
from test_patient_channel import (
    DEMO,
    SECRET,
    SEED,
    Person,
    RecordingAgent,
    Server,
    _free_port,
    run_app_code,
)

from bot import access
from bot.nlu.patient_channel import PatientRestInput, PatientSocketIOInput


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
        access.reset()

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
            access.reset()
