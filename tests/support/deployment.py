"""A deployment of the assistant of a test module's own, and a patient's socket.io client.

``deployed`` starts the Rasa server and the action server as ``make run`` does, on free ports,
with a fresh migrated SQLite file, the clinics the module needs and the environment it asks
for (demo mode on or off, a lowered rate limit). What a conversation contains is read back
from the tracker store's ``events`` table, the one place where everything said ends up.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlalchemy import create_engine, text

from bot import encryption, patient_tokens, runner, settings
from bot.clinics import registry
from bot.storage import db

NORTH = "https://north.example"
MODEL = settings.PROJECT_ROOT / "models" / "current.tar.gz"
CRISIS_MARK = "Nobody is reading this chat live"  # in every utter_crisis_<kind>, no other reply
#: How long what a crisis turn does after its early reply (the risk flag, closing a form) may
#: take on a quiet machine.
CRISIS_TURN_SECONDS = 15.0


def eventually(read: Any, expected: Any, timeout: float = CRISIS_TURN_SECONDS) -> Any:
    """``read()`` once it returns ``expected`` (or its last value after ``timeout``): for what
    a turn stores after its reply went out, as a crisis turn does over REST."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


@dataclass
class Deployment:
    rasa_url: str
    database_url: str
    token_secret: str | None = None
    services: dict[str, runner.Service] = field(default_factory=dict)

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def events(self, sender_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The conversation as stored: (type, event data) in order, opened if sealed."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
                    {"s": sender_id},
                ).all()
        finally:
            engine.dispose()
        return [(type_name, json.loads(encryption.open_value(data))) for type_name, data in rows]

    def user_texts(
        self, sender_id: str, wait_for: str | None = None, at_least: int = 0
    ) -> list[str]:
        """What the patient said in this conversation, once ``wait_for`` and at least
        ``at_least`` messages are saved (20 s at most: the tracker store writes after the
        reply)."""
        deadline = time.monotonic() + 20
        while True:
            said = [data.get("text") for kind, data in self.events(sender_id) if kind == "user"]
            saved = (wait_for is None or wait_for in said) and len(said) >= at_least
            if saved or time.monotonic() > deadline:
                return said
            time.sleep(0.2)

    @contextmanager
    def as_staff(self) -> Iterator[None]:
        """This process on the deployment's database and token key, as the CLI would be."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DATABASE_URL", self.database_url)
            if self.token_secret is not None:
                patch.setenv("COMPANION_TOKEN_SECRET", self.token_secret)
            patient_tokens.reset()
            yield
        patient_tokens.reset()


@contextmanager
def deployed(
    workdir: Path,
    env: dict[str, str] | None = None,
    *,
    token_secret: str | None = None,
    clinic_origins: Sequence[tuple[str, str]] = (),
) -> Iterator[Deployment]:
    """Both servers running on ``workdir``'s database until the block ends.

    ``clinic_origins`` are the clinics made first, as (slug, origin); ``env`` goes to both
    servers (with the database and ``token_secret``, if given).
    """
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first (make test does).")
    database_url = f"sqlite:///{workdir / 'companion.db'}"
    db.upgrade(database_url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        for slug, origin in clinic_origins:
            registry.create(slug, f"{slug.capitalize()} clinic", origins=[origin])
        # The demo clinic the open REST channel's conversations belong to, and agree to the
        # consent text of (made by the web app on first use where it runs; it does not here).
        with db.session_scope() as session:
            registry.demo_clinic(session)
    server_env = {"DATABASE_URL": database_url, **(env or {})}
    if token_secret is not None:
        server_env["COMPANION_TOKEN_SECRET"] = token_secret
    rasa_port, action_port = runner.free_port(), runner.free_port()
    with runner.started(
        rasa_port=rasa_port,
        action_port=action_port,
        model=MODEL,
        endpoints=runner.write_endpoints(workdir / "endpoints.yml", action_port),
        env=server_env,
    ) as services:
        yield Deployment(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            database_url=database_url,
            token_secret=token_secret,
            services=services,
        )


class Patient:
    """A socket.io client as the widget uses it, keeping what the server sends."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        # The browser sends the page's Origin on the handshake and on the websocket upgrade;
        # websocket-client would add its own Origin (the server's) unless told not to.
        self.sio = socketio.Client(
            reconnection=False, websocket_extra_options={"suppress_origin": True}
        )
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.refusal: Any = None
        for name in ("bot_uttered", "session_confirm", "access_denied"):
            self.sio.on(name, self._recorder(name))
        #: What the server said about consent (``consent_status``), kept apart from replies.
        self.consent_answers: queue.Queue[Any] = queue.Queue()
        self.sio.on("consent_status", self.consent_answers.put)

        @self.sio.on("connect_error")
        def connect_error(data: Any = None) -> None:
            self.refusal = data

        # A dropped connection shows in the events, so that a test waiting for a reply says
        # why none came instead of timing out on an empty queue.
        @self.sio.on("disconnect")
        def disconnect(reason: Any = None) -> None:
            self.events.put(("disconnect", reason))

    def _recorder(self, name: str) -> Any:
        def record(data: Any = None) -> None:
            self.events.put((name, data))

        return record

    def connect(
        self,
        token: str | None,
        origin: str | None,
        transports: list[str] | None = None,
        *,
        agree: bool = True,
    ) -> bool:
        """Connect with ``token`` from a page of ``origin``; ``agree``: and agree to the
        clinic's consent text, as the widget's patient does before the first message."""
        try:
            self.sio.connect(
                self.deployment.rasa_url,
                headers={"Origin": origin} if origin else {},
                auth={"token": token} if token is not None else None,
                transports=transports,
                wait_timeout=20,
            )
        except socketio.exceptions.ConnectionError as error:
            self.refusal = self.refusal or str(error)
            return False
        if agree:
            self.agree()
        return True

    def agree(self, version: int = 1) -> dict[str, Any]:
        """Send the widget's "I agree" for ``version`` (the clinic's current one, if that
        changed) and wait until the server recorded it."""
        while not self.consent_answers.empty():
            self.consent_answers.get_nowait()
        self.sio.emit("consent", {"version": version})
        answer = self.consent_answers.get(timeout=30)
        if answer.get("error") == "consent_changed":
            return self.agree(answer["version"])
        assert answer.get("current"), answer
        return answer

    def next_event(self, timeout: float = 60) -> tuple[str, Any]:
        return self.events.get(timeout=timeout)

    def replies(self, quiet: float = 3.0) -> list[dict[str, Any]]:
        """Every bot_uttered until the bot has been quiet for ``quiet`` seconds."""
        first = self.next_event()
        found = [first]
        while True:
            try:
                found.append(self.events.get(timeout=quiet))
            except queue.Empty:
                break
        assert all(name == "bot_uttered" for name, _ in found), found
        return [data for _, data in found]

    def say(self, message: str, **extra: Any) -> list[dict[str, Any]]:
        self.sio.emit("user_uttered", {"message": message, **extra})
        return self.replies()

    def close(self) -> None:
        self.sio.disconnect()
