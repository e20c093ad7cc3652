"""Patients' identity on the running assistant, with a real socket.io client.

The ``deployment`` servers run the way a clinic deployment does: demo mode off, so every
chat needs a patient token, and a token key shared by the servers and this process (which
plays the clinic staff's CLI, making clinics and links with ``bot.clinics.registry`` and
``bot.clinics.patients``).
The demo-mode REST rule is checked on the shared ``assistant`` of conftest.py. What a
conversation contains is read back from the tracker store's ``events`` table, the one place
where everything said in a conversation ends up.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests
from consent_support import agree_over_rest
from deployment import CRISIS_MARK, NORTH, Deployment, Patient, deployed
from sqlalchemy import create_engine, text

from bot import patient_tokens
from bot.clinics import patients, registry
from bot.clinics.patients import Invite

SECRET = "integration-test-token-key-0123456789abcdef"
SOUTH = "https://south.example"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(
        tmp_path_factory.mktemp("deployment"),
        {"COMPANION_DEMO_MODE": "0"},
        token_secret=SECRET,
        clinic_origins=[("north", NORTH), ("south", SOUTH)],
    ) as running:
        yield running


@pytest.fixture
def staff(deployment: Deployment) -> Iterator[None]:
    """This process on the deployment's database and token key, as the CLI would be."""
    with deployment.as_staff():
        yield


@pytest.fixture
def north_a(staff: None) -> Invite:
    return patients.invite("north", timedelta(days=1))


@pytest.fixture
def north_b(staff: None) -> Invite:
    return patients.invite("north", timedelta(days=1))


# -- a socket.io client ----------------------------------------------------------------------


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
    message = patient_tokens.MESSAGES[reason]
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
    replies = [r["text"] for r in patient.say("I took too many pills")]
    # The crisis reply comes ahead of the turn, and the turn does not repeat it: every
    # paragraph of it exactly once.
    assert CRISIS_MARK in replies[0]
    assert len(replies) == len(set(replies))
    assert sum(CRISIS_MARK in text for text in replies) == 1


def test_forged_expired_and_revoked_tokens_are_refused_with_their_reason(
    deployment: Deployment, north_a: Invite, north_b: Invite, open_patient: Any
) -> None:
    claims = jwt.decode(north_a.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "a-key-this-deployment-does-not-have-000000", algorithm="HS256")
    expired = patient_tokens.issue_token(
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
    patient = open_patient()
    assert not patient.connect(north_a.token, SOUTH)
    assert patient.refusal == refusal("origin_not_allowed")
    patient = open_patient()
    assert not patient.connect(north_a.token, None)
    # Refused by the HTTP handshake itself, before any socket.io session.
    assert "origin_required" in str(patient.refusal)


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
        {"reason": "revoked", "message": patient_tokens.MESSAGES["revoked"]},
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
            "message": patient_tokens.MESSAGES["missing_token"],
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
    registry.create(slug, "Another clinic", origins=["https://other.example"])
    other = patients.invite(slug, timedelta(days=1))

    refused = requests.post(
        assistant.rest_url, json={"sender": other.sender_id, "message": "hello"}, timeout=60
    )
    agree_over_rest(assistant.rest_url, sender=f"{slug}-visitor")
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
