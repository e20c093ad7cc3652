"""The patient channels (bot/chat/patient_channel.py) on a real Sanic server and database file.

The server, its database and the echoing agent are tests/support/channel_server.py's; the
clients are python-socketio's AsyncClient and plain HTTP. These tests are about who may say
what into which conversation. Whole conversations with the real model are in
tests/integration/test_socketio.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import requests
import socketio
from channel_server import DEMO, Person, RecordingAgent, Server, channel_server, run_app_code
from consent_support import agree_over_rest

from bot import patient_tokens
from bot.chat import patient_channel
from bot.chat.patient_channel import ACCESS_DENIED_EVENT, UNREADABLE_MESSAGE, _maybe_await

NORTH = "https://north.example"
SOUTH = "https://south.example:8443"

REVOKE = """
import sys
from bot.clinics import patients

print(patients.revoke(link_id=sys.argv[1]))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with channel_server(tmp_path_factory.mktemp("patient-channel")) as running:
        yield running


def forged_token(person: Person) -> str:
    """The person's own claims, signed with a key this deployment does not have."""
    claims = jwt.decode(person.token, options={"verify_signature": False})
    return jwt.encode(claims, "not-the-deployment-key-but-just-as-long", algorithm="HS256")


def expired_token(person: Person) -> str:
    """Correctly signed, for a link that exists and is not revoked, but past its expiry."""
    return patient_tokens.issue_token(
        sender_id=person.sender_id,
        clinic=person.clinic,
        jti=person.link_id,
        kind="invite",
        expires_at=datetime.now(timezone.utc) - timedelta(minutes=5),
    )


def unknown_link_token(person: Person) -> str:
    """Correctly signed and current, but for a link the database has never had."""
    return patient_tokens.issue_token(
        sender_id=person.sender_id,
        clinic=person.clinic,
        jti=uuid.uuid4().hex,
        kind="invite",
        expires_at=datetime.now(timezone.utc) + timedelta(days=1),
    )


def bad_token(kind: str, server: Server) -> str:
    north_a = server.people["north_a"]
    return {
        "forged": lambda: forged_token(north_a),
        "expired": lambda: expired_token(north_a),
        "revoked": lambda: server.people["revoked"].token,
        "unknown_link": lambda: unknown_link_token(north_a),
        "garbage": lambda: "not.a.token",
    }[kind]()


BAD_TOKENS = [
    ("forged", "invalid_signature"),
    ("expired", "expired"),
    ("revoked", "revoked"),
    ("unknown_link", "revoked"),
    ("garbage", "malformed_token"),
]


# -- REST ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_rest_bearer_token_names_the_sender_whatever_the_body_says(
    server: Server, agent: RecordingAgent
) -> None:
    north_a, north_b = server.people["north_a"], server.people["north_b"]
    response = requests.post(
        server.rest,
        json={
            "sender": north_b.sender_id,
            "message": "hello",
            "input_channel": "socketio",
            "metadata": {"clinic": "south", "sender_id": north_b.sender_id},
        },
        headers={"Authorization": f"Bearer {north_a.token}"},
        timeout=30,
    )

    assert response.status_code == 200
    assert response.json() == [{"recipient_id": north_a.sender_id, "text": "echo: hello"}]
    assert agent.received() == [(north_a.sender_id, "hello", {"clinic": "north"}, "rest")]


def test_rest_token_needs_no_origin_and_works_outside_demo_mode(
    server: Server, agent: RecordingAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPANION_DEMO_MODE", "0")
    south_a = server.people["south_a"]
    response = requests.post(
        server.rest,
        json={"message": "hi"},
        headers={"Authorization": f"bearer {south_a.token}", "Origin": "https://evil.example"},
        timeout=30,
    )

    assert response.status_code == 200
    assert agent.received() == [(south_a.sender_id, "hi", {"clinic": "south"}, "rest")]


@pytest.mark.parametrize(("kind", "reason"), BAD_TOKENS)
def test_rest_refuses_a_bad_token_even_in_demo_mode(
    kind: str, reason: str, server: Server, agent: RecordingAgent
) -> None:
    response = requests.post(
        server.rest,
        json={"sender": "someone-new", "message": "hello"},
        headers={"Authorization": f"Bearer {bad_token(kind, server)}"},
        timeout=30,
    )

    assert response.status_code == 401
    assert response.json() == {"error": reason, "message": patient_tokens.MESSAGES[reason]}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert agent.received() == []


def test_rest_other_authorization_schemes_are_not_a_token(
    server: Server, agent: RecordingAgent
) -> None:
    response = requests.post(
        server.rest,
        json={"sender": "someone-new", "message": "hello"},
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
        timeout=30,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "missing_token"
    assert agent.received() == []


@pytest.mark.parametrize("sender", ["someone-new", "north_a", "demo_a"])
def test_rest_without_token_is_refused_outside_demo_mode(
    sender: str, server: Server, agent: RecordingAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPANION_DEMO_MODE", "0")
    person = server.people.get(sender)
    response = requests.post(
        server.rest,
        json={"sender": person.sender_id if person else sender, "message": "hello"},
        timeout=30,
    )

    assert response.status_code == 401
    assert response.json() == {
        "error": "missing_token",
        "message": patient_tokens.MESSAGES["missing_token"],
    }
    assert agent.received() == []


def test_rest_demo_mode_is_open_for_conversations_without_a_token(
    server: Server, agent: RecordingAgent
) -> None:
    agree_over_rest(server.rest, sender="visitor-1")
    response = requests.post(
        server.rest,
        json={"sender": "visitor-1", "message": "hello", "metadata": {"clinic": "north"}},
        timeout=30,
    )

    assert response.status_code == 200
    assert response.json() == [{"recipient_id": "visitor-1", "text": "echo: hello"}]
    assert agent.received() == [("visitor-1", "hello", {"clinic": "demo"}, "rest")]


def test_rest_demo_mode_keeps_a_demo_patients_tokened_conversation_closed(
    server: Server, agent: RecordingAgent
) -> None:
    demo_a = server.people["demo_a"]
    without = requests.post(
        server.rest, json={"sender": demo_a.sender_id, "message": "hi"}, timeout=30
    )
    with_token = requests.post(
        server.rest,
        json={"sender": "ignored", "message": "hi"},
        headers={"Authorization": f"Bearer {demo_a.token}"},
        timeout=30,
    )

    assert without.status_code == 401
    assert without.json()["error"] == "missing_token"
    assert with_token.status_code == 200
    assert agent.received() == [(demo_a.sender_id, "hi", {"clinic": "demo"}, "rest")]


@pytest.mark.parametrize("patient", ["north_a", "south_a"])
def test_rest_demo_mode_refuses_another_clinics_patient(
    patient: str, server: Server, agent: RecordingAgent
) -> None:
    response = requests.post(
        server.rest,
        json={"sender": server.people[patient].sender_id, "message": "let me in"},
        timeout=30,
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "wrong_clinic",
        "message": patient_tokens.MESSAGES["wrong_clinic"],
    }
    assert agent.received() == []


@pytest.mark.parametrize(
    "body", [["a", "list"], "just text", {"message": "no sender"}, {"sender": "x", "message": 5}]
)
def test_rest_unusable_bodies_are_a_bad_request(
    body: Any, server: Server, agent: RecordingAgent
) -> None:
    response = requests.post(server.rest, json=body, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert agent.received() == []


def test_rest_stream_is_refused(server: Server, agent: RecordingAgent) -> None:
    """A streamed turn would skip the turn slots and the early crisis reply."""
    north_a = server.people["north_a"]
    response = requests.post(
        f"{server.rest}?stream=true",
        json={"message": "I want to kill myself"},
        headers={"Authorization": f"Bearer {north_a.token}"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "stream_not_supported"
    assert agent.received() == []


# -- socket.io: the handshake ----------------------------------------------------------------


def handshake(server: Server, origin: str | None) -> requests.Response:
    headers = {"Origin": origin} if origin else {}
    return requests.get(
        f"{server.url}/socket.io/", params={"EIO": "4", "transport": "polling"}, headers=headers
    )


@pytest.mark.parametrize("origin", ["https://evil.example", "https://north.example.evil.com"])
def test_handshake_refuses_an_origin_no_clinic_allows(origin: str, server: Server) -> None:
    response = handshake(server, origin)

    assert response.status_code == 400
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("origin", [NORTH, SOUTH, DEMO, "http://127.0.0.1:8000"])
def test_handshake_accepts_a_clinics_origin_without_credentials(
    origin: str, server: Server
) -> None:
    response = handshake(server, origin)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Access-Control-Allow-Credentials" not in response.headers


# -- socket.io: connections ------------------------------------------------------------------


class Client:
    """A python-socketio AsyncClient that keeps what the server sent it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = aiohttp.ClientSession()
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.refusal: Any = None
        self.answered = asyncio.Event()
        self.disconnected = asyncio.Event()

        for name in ("bot_uttered", "session_confirm", ACCESS_DENIED_EVENT):
            self.sio.on(name, self._recorder(name))

        @self.sio.on("connect")
        async def connect() -> None:
            self.answered.set()

        @self.sio.on("connect_error")
        async def connect_error(data: Any = None) -> None:
            self.refusal = data
            self.answered.set()

        @self.sio.on("disconnect")
        async def disconnect() -> None:
            self.disconnected.set()

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            await self.events.put((name, data))

        return record

    async def connect(
        self, token: str | None, origin: str | None, transport: str = "polling"
    ) -> bool:
        headers = {"Origin": origin} if origin else {}
        auth = {"token": token} if token is not None else None
        try:
            # python-socketio 5.9's client waits out its whole timeout after a refusal, so
            # wait for the server's answer (connect or connect_error) here instead.
            await self.sio.connect(
                self.server.url, headers=headers, auth=auth, transports=[transport], wait=False
            )
        except socketio.exceptions.ConnectionError as error:
            self.refusal = self.refusal or str(error)
            return False
        await asyncio.wait_for(self.answered.wait(), 10)
        return self.refusal is None

    async def next_event(self, timeout: float = 10) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def no_event(self, wait: float = 1.0) -> None:
        await asyncio.sleep(wait)
        assert self.events.empty(), f"unexpected: {self.events.get_nowait()}"

    async def close(self) -> None:
        await self.sio.disconnect()
        # engine.io's write loop sends the goodbye packet after disconnect() returns, and
        # would open a new HTTP session if this one were already closed.
        writer = self.sio.eio.write_loop_task
        if writer is not None:
            await asyncio.wait_for(writer, 10)
        await self.http.close()


async def refusal_for(server: Server, token: str | None, origin: str | None) -> Any:
    client = Client(server)
    try:
        assert not await client.connect(token, origin), "the connection was accepted"
        return client.refusal
    finally:
        await client.close()


def refusal_data(reason: str) -> dict[str, Any]:
    message = patient_tokens.MESSAGES[reason]
    return {"message": message, "data": {"reason": reason, "message": message}}


@pytest.mark.parametrize(("kind", "reason"), BAD_TOKENS)
def test_socket_refuses_a_bad_token_with_its_reason(
    kind: str, reason: str, server: Server, agent: RecordingAgent
) -> None:
    refusal = asyncio.run(refusal_for(server, bad_token(kind, server), NORTH))

    assert refusal == refusal_data(reason)


@pytest.mark.parametrize("auth", [None, ""])
def test_socket_refuses_a_missing_token(auth: str | None, server: Server) -> None:
    assert asyncio.run(refusal_for(server, auth, NORTH)) == refusal_data("missing_token")


def test_socket_refuses_a_missing_origin_at_the_handshake(server: Server) -> None:
    """python-engineio lets a handshake without Origin through; the channel's server does not."""
    response = handshake(server, None)

    assert response.status_code == 400
    assert response.json()["reason"] == "origin_required"
    # The client is told so by the HTTP answer: no socket.io session was ever opened.
    refusal = asyncio.run(refusal_for(server, server.people["north_a"].token, None))
    assert "origin_required" in str(refusal)


def test_socket_refuses_another_clinics_origin(server: Server) -> None:
    """South's page is an allowed origin at the handshake, but not for a north patient."""
    refusal = asyncio.run(refusal_for(server, server.people["north_a"].token, SOUTH))

    assert refusal == refusal_data("origin_not_allowed")


def test_socket_refuses_a_foreign_origin_at_the_handshake(server: Server) -> None:
    refusal = asyncio.run(
        refusal_for(server, server.people["north_a"].token, "https://evil.example")
    )

    # Refused by python-engineio before any socket.io packet: no reason, the HTTP error only.
    assert not (isinstance(refusal, dict) and "data" in refusal)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_socket_conversation_is_the_tokens_whatever_the_client_sends(
    transport: str, server: Server, agent: RecordingAgent
) -> None:
    north_a, north_b = server.people["north_a"], server.people["north_b"]

    async def scenario() -> list[tuple[str, Any]]:
        client = Client(server)
        try:
            assert await client.connect(north_a.token, NORTH, transport)
            await client.sio.emit("session_request", {"session_id": north_b.sender_id})
            confirm = await client.next_event()
            await client.sio.emit(
                "user_uttered",
                {
                    "message": "hello there",
                    "session_id": north_b.sender_id,
                    "sender": north_b.sender_id,
                    "metadata": {"clinic": "south", "sender_id": north_b.sender_id},
                    "customData": {"sender_id": north_b.sender_id},
                },
            )
            reply = await client.next_event()
            return [confirm, reply]
        finally:
            await client.close()

    confirm, reply = asyncio.run(scenario())

    assert confirm == ("session_confirm", north_a.sender_id)
    assert reply == ("bot_uttered", {"text": "echo: hello there"})
    assert agent.received() == [(north_a.sender_id, "hello there", {"clinic": "north"}, "socketio")]


@pytest.mark.slow
def test_socket_every_tab_of_a_patient_gets_the_replies_and_nobody_else(
    server: Server, agent: RecordingAgent
) -> None:
    north_a, north_b = server.people["north_a"], server.people["north_b"]

    async def scenario() -> None:
        tab_one, tab_two, other = Client(server), Client(server), Client(server)
        try:
            assert await tab_one.connect(north_a.token, NORTH)
            assert await tab_two.connect(north_a.token, NORTH, "websocket")
            assert await other.connect(north_b.token, NORTH)
            # No session_request from tab one: the socket is in its room from connect on.
            await tab_one.sio.emit("user_uttered", {"message": "from tab one"})
            assert await tab_one.next_event() == ("bot_uttered", {"text": "echo: from tab one"})
            assert await tab_two.next_event() == ("bot_uttered", {"text": "echo: from tab one"})
            # Naming the other patient's conversation as a room or session does not join it.
            await other.sio.emit("session_request", {"session_id": north_a.sender_id})
            assert await other.next_event() == ("session_confirm", north_b.sender_id)
            await tab_two.sio.emit("user_uttered", {"message": "from tab two"})
            assert await tab_one.next_event() == ("bot_uttered", {"text": "echo: from tab two"})
            assert await tab_two.next_event() == ("bot_uttered", {"text": "echo: from tab two"})
            await other.no_event()
        finally:
            for client in (tab_one, tab_two, other):
                await client.close()

    asyncio.run(scenario())

    assert [sender for sender, *_ in agent.received()] == [north_a.sender_id] * 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "data", ["just text", ["message", "hi"], {"message": 42}, {"message": "   "}, {"text": "hi"}]
)
def test_socket_unreadable_messages_are_answered_on_that_socket_only(
    data: Any, server: Server, agent: RecordingAgent
) -> None:
    north_a = server.people["north_a"]

    async def scenario() -> None:
        client, tab = Client(server), Client(server)
        try:
            assert await client.connect(north_a.token, NORTH)
            assert await tab.connect(north_a.token, NORTH)
            await client.sio.emit("user_uttered", data)
            assert await client.next_event() == ("bot_uttered", {"text": UNREADABLE_MESSAGE})
            await tab.no_event()
        finally:
            await client.close()
            await tab.close()

    asyncio.run(scenario())

    assert agent.received() == []


@pytest.mark.slow
def test_socket_revoking_a_link_ends_an_open_conversation(
    server: Server, agent: RecordingAgent, patient: Person
) -> None:
    async def scenario() -> Any:
        client = Client(server)
        try:
            assert await client.connect(patient.token, NORTH)
            await client.sio.emit("user_uttered", {"message": "before"})
            assert await client.next_event() == ("bot_uttered", {"text": "echo: before"})
            assert await asyncio.to_thread(run_app_code, REVOKE, patient.link_id) == 1
            await client.sio.emit("user_uttered", {"message": "after", "id": "m-after"})
            denied = await client.next_event()
            await asyncio.wait_for(client.disconnected.wait(), 10)
            return denied
        finally:
            await client.close()

    denied = asyncio.run(scenario())

    # The refused message is named, so that the widget keeps it as not sent.
    assert denied == (
        ACCESS_DENIED_EVENT,
        {"reason": "revoked", "message": patient_tokens.MESSAGES["revoked"], "id": "m-after"},
    )
    assert agent.received() == [(patient.sender_id, "before", {"clinic": "north"}, "socketio")]
    assert asyncio.run(refusal_for(server, patient.token, NORTH)) == refusal_data("revoked")


# -- python-socketio versions ----------------------------------------------------------------


def test_enter_room_is_awaited_when_it_is_a_coroutine() -> None:
    """python-socketio >= 5.10 made ``AsyncServer.enter_room`` a coroutine (rasa#13027)."""
    entered: list[str] = []

    async def coroutine_enter_room(room: str) -> None:
        entered.append(room)

    def plain_enter_room(room: str) -> None:
        entered.append(room)

    async def scenario() -> None:
        await _maybe_await(coroutine_enter_room("as coroutine"))
        await _maybe_await(plain_enter_room("as function"))

    asyncio.run(scenario())

    assert entered == ["as coroutine", "as function"]


# -- the database unreachable ------------------------------------------------------------------


def test_an_open_chat_goes_on_when_the_database_is_unreachable(
    server: Server, agent: RecordingAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    north_a = server.people["north_a"]
    unreachable = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'companion.db'}"

    async def scenario() -> None:
        client = Client(server)
        try:
            assert await client.connect(north_a.token, NORTH)
            monkeypatch.setenv("DATABASE_URL", unreachable)
            await client.sio.emit("user_uttered", {"message": "still there?"})
            assert await client.next_event() == ("bot_uttered", {"text": "echo: still there?"})
        finally:
            await client.close()

    asyncio.run(scenario())
    patient_tokens.reset()  # forget the cached origins: the handshake has to read them now

    assert agent.received() == [
        (north_a.sender_id, "still there?", {"clinic": "north"}, "socketio")
    ]
    assert handshake(server, NORTH).status_code == 400
    response = requests.post(
        server.rest,
        json={"message": "hello"},
        headers={"Authorization": f"Bearer {north_a.token}"},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


@pytest.mark.slow
def test_an_open_chat_ends_when_its_token_expires_while_the_database_is_unreachable(
    server: Server, agent: RecordingAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    north_a = server.people["north_a"]
    short_lived = patient_tokens.issue_token(
        sender_id=north_a.sender_id,
        clinic="north",
        jti=north_a.link_id,
        kind="invite",
        expires_at=datetime.now(timezone.utc) + timedelta(seconds=2),
    )

    async def scenario() -> Any:
        client = Client(server)
        try:
            assert await client.connect(short_lived, NORTH)
            monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
            await asyncio.sleep(3)
            await client.sio.emit("user_uttered", {"message": "too late"})
            return await client.next_event()
        finally:
            await client.close()

    assert asyncio.run(scenario()) == (
        ACCESS_DENIED_EVENT,
        {"reason": "expired", "message": patient_tokens.MESSAGES["expired"]},
    )
    assert agent.received() == []


def test_socket_a_patients_messages_reach_the_assistant_in_the_order_sent(
    server: Server, agent: RecordingAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each message's token is checked again in a thread pool, and two checks can finish in
    either order: here the first message's check is the slow one. The second message must
    still wait for the first (it took its place in the queue when it arrived)."""
    north_a = server.people["north_a"]
    checked = patient_channel.verify_token
    calls: list[int] = []

    def first_check_slow(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(calls))
        if len(calls) == 1:
            time.sleep(0.5)
        return checked(*args, **kwargs)

    async def scenario() -> list[tuple[str, Any]]:
        client = Client(server)
        try:
            assert await client.connect(north_a.token, NORTH, "websocket")
            monkeypatch.setattr(patient_channel, "verify_token", first_check_slow)
            await client.sio.emit("user_uttered", {"message": "first line"})
            await client.sio.emit("user_uttered", {"message": "second line"})
            return [await client.next_event(), await client.next_event()]
        finally:
            await client.close()

    replies = asyncio.run(scenario())

    assert len(calls) == 2
    assert [text for _, text, _, _ in agent.received()] == ["first line", "second line"]
    assert replies == [
        ("bot_uttered", {"text": "echo: first line"}),
        ("bot_uttered", {"text": "echo: second line"}),
    ]
