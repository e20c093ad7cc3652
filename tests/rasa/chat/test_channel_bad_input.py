"""Hostile and broken input against the real patient channels: no server error, nothing lost.

Each test sends something a widget never sends - bodies that are not JSON, too large, not
UTF-8, messages of the wrong type, floods - and then checks that the server still answers a
normal message and its health check. The channels run on a real Sanic server with the
default limits (tests/support/channel_server.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from channel_server import Person, RecordingAgent, Server, channel_server, new_patient
from consent_support import agree_over_rest
from test_patient_channel import NORTH, Client, refusal_data, refusal_for

from bot.chat.message_gate import limits
from bot.chat.patient_channel import RATE_LIMITED_EVENT, UNREADABLE_MESSAGE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "COMPANION_RATE_LIMIT": "30/60",
        "COMPANION_RATE_LIMIT_BURST": "20",
        # Every client here shares one address: the per-address limit has tests of its own.
        "COMPANION_IP_RATE_LIMIT": "off",
    }
    with channel_server(tmp_path_factory.mktemp("bad-input"), env) as running:
        yield running


def visitor() -> str:
    return f"visitor-{uuid.uuid4().hex[:8]}"


def assert_still_serving(server: Server) -> None:
    """The health check and a normal message from a new visitor both work."""
    assert requests.get(f"{server.url}/webhooks/rest/", timeout=30).json() == {"status": "ok"}
    sender = visitor()
    agree_over_rest(server.rest, sender=sender)
    answer = requests.post(server.rest, json={"sender": sender, "message": "hello"}, timeout=30)
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": sender, "text": "echo: hello"}]


def post_raw(server: Server, body: bytes, content_type: str = "application/json") -> Any:
    return requests.post(server.rest, data=body, headers={"Content-Type": content_type}, timeout=60)


def assert_refusal(answer: Any, status: int, reason: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert (body["error"], body["reason"]) == (reason, reason)
    assert isinstance(body["message"], str) and body["message"]


# -- REST ------------------------------------------------------------------------------------------

BAD_BODIES = {
    "binary": os.urandom(4096),
    "malformed_json": b'{"sender": "x", "message": "hi"',
    "empty": b"",
    "invalid_utf8_in_json": b'{"sender": "x", "message": "caf\xc3\x28 \xff\xfe"}',
    "latin1_json": '{"sender": "x", "message": "café"}'.encode("latin-1"),
    "list": b'["message", "hi"]',
    "string": b'"hello"',
    "number": b"42",
    "null": b"null",
    "deep_nesting": b"[" * 100_000 + b"]" * 100_000,
    "form_encoded": b"sender=x&message=hi",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", BAD_BODIES)
def test_rest_bodies_that_are_not_a_json_object_are_a_bad_request(
    name: str, server: Server, agent: RecordingAgent
) -> None:
    answer = post_raw(server, BAD_BODIES[name])

    assert_refusal(answer, 400, "bad_request")
    assert agent.received() == []
    assert_still_serving(server)


@pytest.mark.parametrize("message", [None, 42, 4.5, True, ["hi"], {"text": "hi"}])
def test_rest_messages_that_are_not_text_are_a_bad_request(
    message: Any, server: Server, agent: RecordingAgent
) -> None:
    answer = requests.post(server.rest, json={"sender": visitor(), "message": message}, timeout=30)

    assert_refusal(answer, 400, "bad_request")
    assert agent.received() == []
    assert_still_serving(server)


def test_rest_missing_message_is_a_bad_request(server: Server, agent: RecordingAgent) -> None:
    answer = requests.post(server.rest, json={"sender": visitor()}, timeout=30)

    assert_refusal(answer, 400, "bad_request")
    assert agent.received() == []


def test_rest_a_one_megabyte_message_is_refused_as_too_large(
    server: Server, agent: RecordingAgent
) -> None:
    body = json.dumps({"sender": visitor(), "message": "a" * 1_048_576}).encode()

    answer = post_raw(server, body)

    assert_refusal(answer, 413, "body_too_large")
    assert agent.received() == []
    assert_still_serving(server)


def test_rest_a_message_over_the_length_limit_is_refused(
    server: Server, agent: RecordingAgent
) -> None:
    size = limits().max_message_chars
    sender = visitor()
    agree_over_rest(server.rest, sender=sender)
    longest = requests.post(server.rest, json={"sender": sender, "message": "b" * size}, timeout=30)
    too_long = requests.post(
        server.rest, json={"sender": sender, "message": "b" * (size + 1)}, timeout=30
    )

    assert longest.status_code == 200
    assert_refusal(too_long, 413, "message_too_long")
    assert [len(text) for _, text, *_ in agent.received()] == [size]
    assert_still_serving(server)


def test_rest_nul_characters_and_lone_surrogates_are_cleaned_not_fatal(
    server: Server, agent: RecordingAgent
) -> None:
    sender = visitor()
    agree_over_rest(server.rest, sender=sender)
    body = b'{"sender": "%s", "message": "a\\u0000b\\ud800c \\ud83d\\ude00 ok\x00"}' % (
        sender.encode()
    )

    answer = post_raw(server, body.replace(b"\x00", b""))

    assert answer.status_code == 200
    assert agent.received()[0][1] == "ab\ufffdc \U0001f600 ok"
    assert_still_serving(server)


@pytest.mark.parametrize("message", ["", "   \n", "\x00\x00\x00", "\x00 \t"])
def test_rest_blank_text_is_answered_with_a_reply_that_says_so(
    message: str, server: Server, agent: RecordingAgent
) -> None:
    sender = visitor()
    answer = requests.post(server.rest, json={"sender": sender, "message": message}, timeout=30)

    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": sender, "text": UNREADABLE_MESSAGE}]
    assert agent.received() == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/vnd+json"]
)
def test_rest_a_json_body_is_read_when_sent_as_json(
    content_type: str, server: Server, agent: RecordingAgent
) -> None:
    sender = visitor()
    agree_over_rest(server.rest, sender=sender)
    body = json.dumps({"sender": sender, "message": "typed"}).encode()

    answer = post_raw(server, body, content_type)

    assert answer.status_code == 200
    assert agent.received() == [(sender, "typed", {"clinic": "demo"}, "rest")]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ],
)
def test_rest_a_body_a_cross_site_page_could_send_is_refused(
    content_type: str, server: Server, agent: RecordingAgent
) -> None:
    """Any web page can make a browser post these types (or none) here without a CORS
    preflight; only JSON needs one, so only JSON is read."""
    body = json.dumps({"sender": visitor(), "message": "typed"}).encode()

    answer = post_raw(server, body, content_type)

    assert_refusal(answer, 415, "unsupported_media_type")
    assert agent.received() == []
    assert_still_serving(server)


@pytest.mark.parametrize(
    "sender", ["s" * 256, "a\x00b", 17, ["x"], "X/export.csv", "a\nb", "a\ud800", "..", "-x", "é"]
)
def test_rest_an_unusable_demo_sender_is_a_bad_request(
    sender: Any, server: Server, agent: RecordingAgent
) -> None:
    answer = requests.post(server.rest, json={"sender": sender, "message": "hi"}, timeout=30)

    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert agent.received() == []
    assert_still_serving(server)


def test_rest_a_very_long_bearer_token_is_refused_as_malformed(
    server: Server, agent: RecordingAgent
) -> None:
    answer = requests.post(
        server.rest,
        json={"message": "hi"},
        headers={"Authorization": "Bearer " + "x" * 6000},
        timeout=30,
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "malformed_token"
    assert agent.received() == []
    assert_still_serving(server)


def test_rest_headers_over_sanics_limit_are_refused_without_a_server_error(
    server: Server, agent: RecordingAgent
) -> None:
    answer = requests.post(
        server.rest,
        json={"message": "hi"},
        headers={"Authorization": "Bearer " + "x" * 100_000},
        timeout=30,
    )

    assert 400 <= answer.status_code < 500
    assert agent.received() == []
    assert_still_serving(server)


def test_rest_a_token_with_non_ascii_bytes_is_refused(
    server: Server, agent: RecordingAgent
) -> None:
    answer = requests.post(
        server.rest,
        json={"message": "hi"},
        headers={"Authorization": "Bearer caf\xe9.\xff\xfe.token".encode("latin-1")},
        timeout=30,
    )

    assert answer.status_code == 401
    assert agent.received() == []
    assert_still_serving(server)


# -- socket.io -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "just text",
        12,
        None,
        ["message", "hi"],
        {"message": None},
        {"message": 42},
        {"message": ["hi"]},
        {"message": {"text": "hi"}},
        {"message": "\x00"},
        {"text": "hi"},
        {},
        b"\x00\xff\xfe binary",
        {"message": b"\xff\xfe binary in a dict"},
    ],
)
@pytest.mark.slow
def test_socket_unusable_messages_are_answered_and_the_socket_goes_on(
    data: Any, server: Server, agent: RecordingAgent, patient: Person
) -> None:
    async def scenario() -> list[tuple[str, Any]]:
        client = Client(server)
        try:
            assert await client.connect(patient.token, NORTH)
            await client.sio.emit("user_uttered", data)
            first = await client.next_event()
            await client.sio.emit("user_uttered", {"message": "still here"})
            return [first, await client.next_event()]
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [
        ("bot_uttered", {"text": UNREADABLE_MESSAGE}),
        ("bot_uttered", {"text": "echo: still here"}),
    ]
    assert [text for _, text, *_ in agent.received()] == ["still here"]


@pytest.mark.slow
def test_socket_an_over_long_message_is_refused_and_the_socket_goes_on(
    server: Server, agent: RecordingAgent, patient: Person
) -> None:
    async def scenario() -> list[tuple[str, Any]]:
        client = Client(server)
        try:
            assert await client.connect(patient.token, NORTH)
            await client.sio.emit("user_uttered", {"message": "c" * 100_000})
            first = await client.next_event()
            await client.sio.emit("user_uttered", {"message": "shorter"})
            return [first, await client.next_event()]
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [
        ("bot_uttered", {"text": limits().messages["message_too_long"]}),
        ("bot_uttered", {"text": "echo: shorter"}),
    ]
    assert [text for _, text, *_ in agent.received()] == ["shorter"]


@pytest.mark.slow
def test_socket_a_message_over_socketios_size_limit_closes_only_that_connection(
    server: Server, agent: RecordingAgent, patient: Person
) -> None:
    """python-engineio drops a connection whose packet exceeds 1 MB; others carry on."""

    async def scenario() -> tuple[str, Any]:
        huge, other = Client(server), Client(server)
        try:
            assert await huge.connect(patient.token, NORTH, "websocket")
            assert await other.connect(patient.token, NORTH)
            await huge.sio.emit("user_uttered", {"message": "d" * 2_000_000})
            await asyncio.wait_for(huge.disconnected.wait(), 20)
            await other.sio.emit("user_uttered", {"message": "the other tab"})
            return await other.next_event()
        finally:
            await huge.close()
            await other.close()

    assert asyncio.run(scenario()) == ("bot_uttered", {"text": "echo: the other tab"})
    assert [text for _, text, *_ in agent.received()] == ["the other tab"]
    assert_still_serving(server)


@pytest.mark.slow
def test_socket_a_flood_is_rate_limited_and_other_patients_are_answered(
    server: Server, agent: RecordingAgent, patient: Person
) -> None:
    other_patient = new_patient("north")
    flood_size = 3000

    async def scenario() -> tuple[list[tuple[str, Any]], tuple[str, Any]]:
        flooder, other = Client(server), Client(server)
        flooder.sio.on(RATE_LIMITED_EVENT, flooder._recorder(RATE_LIMITED_EVENT))
        try:
            assert await flooder.connect(patient.token, NORTH, "websocket")
            assert await other.connect(other_patient.token, NORTH, "websocket")
            for index in range(flood_size):
                await flooder.sio.emit("user_uttered", {"message": f"flood {index}"})
            await other.sio.emit("user_uttered", {"message": "I am a patient too"})
            answer = await other.next_event(timeout=60)
            events = [await flooder.next_event(timeout=60) for _ in range(flood_size)]
            return events, answer
        finally:
            await flooder.close()
            await other.close()

    events, answer = asyncio.run(scenario())

    assert answer == ("bot_uttered", {"text": "echo: I am a patient too"})
    names = [name for name, _ in events]
    accepted = names.count("bot_uttered")
    # The burst of 20, plus the odd token that refilled while the flood was being sent.
    assert 20 <= accepted <= 25
    assert names.count(RATE_LIMITED_EVENT) == flood_size - accepted
    from_flooder = [text for sender, text, *_ in agent.received() if sender == patient.sender_id]
    assert len(from_flooder) == accepted
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("caf\u00e9.\udcff.token", "malformed_token"),
        ("x" * 20_000, "malformed_token"),
        (123, "missing_token"),
        ({"a": 1}, "missing_token"),
    ],
)
def test_socket_tokens_that_cannot_be_a_jwt_are_refused_with_a_reason(
    token: Any, reason: str, server: Server
) -> None:
    assert asyncio.run(refusal_for(server, token, NORTH)) == refusal_data(reason)
    assert_still_serving(server)
