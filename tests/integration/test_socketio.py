"""Patients' identity on the running assistant, with a real socket.io client.

The ``deployment`` servers run the way a clinic deployment does: demo mode off, so every
chat needs a patient token, and a token key shared by the servers and this process (which
plays the clinic staff's CLI, making clinics and links with ``bot.clinics``/``bot.patients``).
The demo-mode REST rule is checked on the shared ``assistant`` of conftest.py. What a
conversation contains is read back from the tracker store's ``events`` table, the one place
where everything said in a conversation ends up.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import socketio
from sqlalchemy import create_engine, text

from bot import access, clinics, encryption, patients, runner, settings
from bot.patients import Invite
from bot.storage import db

SECRET = "integration-test-token-key-0123456789abcdef"
NORTH = "https://north.example"
SOUTH = "https://south.example"
MODEL = settings.PROJECT_ROOT / "models" / "current.tar.gz"
CRISIS_MARK = "glad you told me"  # the opening of utter_crisis


@dataclass
class Deployment:
    rasa_url: str
    database_url: str

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def events(self, sender_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The conversation as stored: (type, event data) in order."""
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

    def user_texts(self, sender_id: str, wait_for: str | None = None) -> list[str]:
        """What the patient said in this conversation (waits for ``wait_for`` to be saved)."""
        deadline = time.monotonic() + 20
        while True:
            said = [data.get("text") for kind, data in self.events(sender_id) if kind == "user"]
            if wait_for is None or wait_for in said or time.monotonic() > deadline:
                return said
            time.sleep(0.2)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first (make test does).")
    workdir: Path = tmp_path_factory.mktemp("deployment")
    database_url = f"sqlite:///{workdir / 'companion.db'}"
    db.upgrade(database_url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        clinics.create("north", "North clinic", origins=[NORTH])
        clinics.create("south", "South clinic", origins=[SOUTH])
    rasa_port, action_port = runner.free_port(), runner.free_port()
    with runner.started(
        rasa_port=rasa_port,
        action_port=action_port,
        model=MODEL,
        endpoints=runner.write_endpoints(workdir / "endpoints.yml", action_port),
        env={
            "DATABASE_URL": database_url,
            "COMPANION_TOKEN_SECRET": SECRET,
            "COMPANION_DEMO_MODE": "0",
        },
    ):
        yield Deployment(rasa_url=f"http://127.0.0.1:{rasa_port}", database_url=database_url)


@pytest.fixture
def staff(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process on the deployment's database and token key, as the CLI would be."""
    monkeypatch.setenv("DATABASE_URL", deployment.database_url)
    monkeypatch.setenv("COMPANION_TOKEN_SECRET", SECRET)
    access.reset()
    yield
    access.reset()


@pytest.fixture
def north_a(staff: None) -> Invite:
    return patients.invite("north", timedelta(days=1))


@pytest.fixture
def north_b(staff: None) -> Invite:
    return patients.invite("north", timedelta(days=1))


# -- a socket.io client ----------------------------------------------------------------------


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

        @self.sio.on("connect_error")
        def connect_error(data: Any = None) -> None:
            self.refusal = data

    def _recorder(self, name: str) -> Any:
        def record(data: Any = None) -> None:
            self.events.put((name, data))

        return record

    def connect(
        self, token: str | None, origin: str | None, transports: list[str] | None = None
    ) -> bool:
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
        return True

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


@pytest.fixture
def open_patient(deployment: Deployment) -> Iterator[Any]:
    """Make patients' clients; all are disconnected at the end of the test."""
    made: list[Patient] = []

    def make() -> Patient:
        made.append(Patient(deployment))
        return made[-1]

    yield make
    for patient in made:
        patient.close()


def refusal(reason: str) -> dict[str, Any]:
    message = access.MESSAGES[reason]
    return {"message": message, "data": {"reason": reason, "message": message}}


# -- connecting ------------------------------------------------------------------------------


def test_valid_token_chats_and_the_reply_comes_back(
    deployment: Deployment, north_a: Invite, open_patient: Any
) -> None:
    patient = open_patient()
    assert patient.connect(north_a.token, NORTH)
    patient.sio.emit("session_request", {})
    assert patient.next_event() == ("session_confirm", north_a.sender_id)

    replies = patient.say("hello")

    assert "automated assistant" in replies[0]["text"]
    assert {"content_type": "text", "title": "Quick check-in", "payload": "/start_checkin"} in (
        replies[-1]["quick_replies"]
    )
    assert deployment.user_texts(north_a.sender_id, wait_for="hello") == ["hello"]


def test_the_widget_transport_upgrades_to_websocket_with_the_page_origin(
    deployment: Deployment, north_a: Invite, open_patient: Any
) -> None:
    patient = open_patient()
    assert patient.connect(north_a.token, NORTH, transports=["polling", "websocket"])
    deadline = time.monotonic() + 10
    while patient.sio.transport() != "websocket" and time.monotonic() < deadline:
        time.sleep(0.1)

    assert patient.sio.transport() == "websocket"
    assert CRISIS_MARK in " ".join(r["text"] for r in patient.say("I took too many pills"))


def test_forged_expired_and_revoked_tokens_are_refused_with_their_reason(
    deployment: Deployment, north_a: Invite, north_b: Invite, open_patient: Any
) -> None:
    claims = jwt.decode(north_a.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "a-key-this-deployment-does-not-have-000000", algorithm="HS256")
    expired = access.issue_token(
        sender_id=north_a.sender_id,
        clinic="north",
        jti=north_a.link_id,
        kind="invite",
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    assert patients.revoke(link_id=north_b.link_id) == 1

    for token, reason in [
        (forged, "invalid_signature"),
        (expired, "expired"),
        (north_b.token, "revoked"),
        (None, "missing_token"),
    ]:
        patient = open_patient()
        assert not patient.connect(token, NORTH), reason
        assert patient.refusal == refusal(reason)
    # The genuine token of the same link still works.
    assert open_patient().connect(north_a.token, NORTH)


def test_a_foreign_origin_is_refused_at_the_handshake(
    deployment: Deployment, north_a: Invite, open_patient: Any
) -> None:
    handshake = requests.get(
        f"{deployment.rasa_url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"Origin": "https://evil.example"},
        timeout=10,
    )
    assert handshake.status_code == 400
    assert "Access-Control-Allow-Origin" not in handshake.headers

    patient = open_patient()
    assert not patient.connect(north_a.token, "https://evil.example")
    # No socket.io refusal object: the HTTP handshake itself failed.
    assert not isinstance(patient.refusal, dict)


def test_another_clinics_origin_and_a_missing_origin_are_refused(
    deployment: Deployment, north_a: Invite, open_patient: Any
) -> None:
    for origin in (SOUTH, None):
        patient = open_patient()
        assert not patient.connect(north_a.token, origin), origin
        assert patient.refusal == refusal("origin_not_allowed")


# -- whose conversation ----------------------------------------------------------------------


def test_a_patient_can_never_write_into_another_patients_conversation(
    deployment: Deployment, north_a: Invite, north_b: Invite, open_patient: Any
) -> None:
    a, b = open_patient(), open_patient()
    assert a.connect(north_a.token, NORTH)
    assert b.connect(north_b.token, NORTH)
    b.sio.emit("session_request", {})
    assert b.next_event() == ("session_confirm", north_b.sender_id)

    a.sio.emit("session_request", {"session_id": north_b.sender_id})
    assert a.next_event() == ("session_confirm", north_a.sender_id)
    impersonation = {
        "session_id": north_b.sender_id,
        "sender": north_b.sender_id,
        "sender_id": north_b.sender_id,
        "metadata": {"clinic": "north", "sender_id": north_b.sender_id},
        "customData": {"session_id": north_b.sender_id},
    }
    assert a.say("hello", **impersonation)
    assert a.say("quick check-in please", **impersonation)

    assert deployment.user_texts(north_a.sender_id, wait_for="quick check-in please") == [
        "hello",
        "quick check-in please",
    ]
    assert deployment.events(north_b.sender_id) == []
    with pytest.raises(queue.Empty):
        b.next_event(timeout=2)  # and B's open chat saw none of A's replies

    # Over REST, A's token with B's id in the body also writes into A's conversation.
    response = requests.post(
        deployment.rest_url,
        json={"sender": north_b.sender_id, "message": "seven"},
        headers={"Authorization": f"Bearer {north_a.token}"},
        timeout=60,
    )
    assert response.status_code == 200
    assert {m["recipient_id"] for m in response.json()} == {north_a.sender_id}
    assert deployment.user_texts(north_a.sender_id, wait_for="seven")[-1] == "seven"
    assert deployment.events(north_b.sender_id) == []


def test_two_tabs_of_one_patient_share_the_conversation(
    deployment: Deployment, north_a: Invite, open_patient: Any
) -> None:
    first, second = open_patient(), open_patient()
    assert first.connect(north_a.token, NORTH)
    assert second.connect(north_a.token, NORTH)

    replies = first.say("hello")

    assert second.replies() == replies


def test_revoking_a_link_ends_an_open_chat(
    deployment: Deployment, north_a: Invite, open_patient: Any
) -> None:
    patient = open_patient()
    assert patient.connect(north_a.token, NORTH)
    assert patient.say("hello")

    assert patients.revoke(sender_id=north_a.sender_id) == 1
    patient.sio.emit("user_uttered", {"message": "are you still there"})

    assert patient.next_event() == (
        "access_denied",
        {"reason": "revoked", "message": access.MESSAGES["revoked"]},
    )
    assert "are you still there" not in deployment.user_texts(north_a.sender_id)


# -- REST ------------------------------------------------------------------------------------


def test_rest_without_a_token_is_refused_outside_demo_mode(
    deployment: Deployment, north_a: Invite
) -> None:
    for sender in ("someone", north_a.sender_id):
        response = requests.post(
            deployment.rest_url, json={"sender": sender, "message": "hello"}, timeout=60
        )
        assert response.status_code == 401
        assert response.json() == {
            "error": "missing_token",
            "message": access.MESSAGES["missing_token"],
        }
    assert deployment.events("someone") == []
    assert deployment.events(north_a.sender_id) == []


def test_rest_with_a_bad_token_is_refused_with_its_reason(
    deployment: Deployment, north_a: Invite
) -> None:
    assert patients.revoke(link_id=north_a.link_id) == 1
    response = requests.post(
        deployment.rest_url,
        json={"message": "hello"},
        headers={"Authorization": f"Bearer {north_a.token}"},
        timeout=60,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "revoked"
    assert deployment.events(north_a.sender_id) == []


def test_demo_mode_rest_refuses_a_sender_of_another_clinic(
    assistant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared demo-mode assistant: open for the demo clinic, not for anyone else's."""
    monkeypatch.setenv("DATABASE_URL", assistant.database_url)
    slug = f"other-{int(time.time() * 1000)}"
    clinics.create(slug, "Another clinic", origins=["https://other.example"])
    other = patients.invite(slug, timedelta(days=1))

    refused = requests.post(
        assistant.rest_url, json={"sender": other.sender_id, "message": "hello"}, timeout=60
    )
    open_demo = requests.post(
        assistant.rest_url, json={"sender": f"{slug}-visitor", "message": "hello"}, timeout=60
    )

    assert refused.status_code == 403
    assert refused.json()["error"] == "wrong_clinic"
    assert open_demo.status_code == 200
    assert "automated assistant" in open_demo.json()[0]["text"]
    engine = create_engine(assistant.database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": other.sender_id}
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored == 0
