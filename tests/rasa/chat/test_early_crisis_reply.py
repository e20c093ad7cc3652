"""A crisis message gets the crisis reply before the assistant's pipeline has answered it,
over socket.io (once, whatever the turn says later) and over REST (the response comes at once,
the turn goes on after it, and a turn that ends within a moment adds its own lines); other
messages get no early reply.

The agent here stands for a Rasa server busy with other patients: it takes three seconds per
message and then answers a crisis message with ``utter_crisis``, as the crisis policy does.
One message (QUICK_CRISIS) it answers at once, with the safety plan's line after the reply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from channel_server import RecordingAgent, Server, channel_server, new_patient
from rasa.core.channels.channel import UserMessage
from test_patient_channel import NORTH, Client

from bot.chat import patient_channel
from bot.chat.patient_channel import crisis_reply

pytestmark = pytest.mark.slow

BUSY_SECONDS = 3.0
CRISIS = "i want to kill myself"
QUICK_CRISIS = "i want to kill myself tonight"
PLAN_LINE = "Your safety plan says you can call Maria."


class BusyAgent(RecordingAgent):
    """Answers after a while: the crisis reply to crisis messages, an echo to the rest."""

    finished: list[str] = []

    async def handle_message(self, message: UserMessage) -> None:
        with self.lock:
            self.messages.append(message)
        if message.text == QUICK_CRISIS:
            await message.output_channel.send_text_message(message.sender_id, crisis_reply())
            await message.output_channel.send_text_message(message.sender_id, PLAN_LINE)
            with self.lock:
                self.finished.append(QUICK_CRISIS)
            return
        await asyncio.sleep(BUSY_SECONDS)
        text = crisis_reply() if "kill myself" in (message.text or "") else f"echo: {message.text}"
        await message.output_channel.send_text_message(message.sender_id, text)
        with self.lock:
            self.finished.append(message.text or "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One turn at a time, so that a busy server's queue is easy to make.
    with channel_server(
        tmp_path_factory.mktemp("early-crisis"),
        env={"COMPANION_CONCURRENT_TURNS": "1"},
        agent=BusyAgent(),
    ) as running:
        yield running


def parts(text: str) -> list[str]:
    """How Rasa's socket.io output splits a reply into events (one per paragraph)."""
    return text.strip().split("\n\n")


async def conversation(
    server: Server, token: str, text: str, before_sending: Any = None
) -> list[tuple[float, Any]]:
    client = Client(server)
    try:
        assert await client.connect(token, NORTH)
        if before_sending is not None:
            before_sending()
        started = time.monotonic()
        await client.sio.emit("user_uttered", {"message": text})
        received = []
        while True:
            try:
                name, data = await client.next_event(timeout=BUSY_SECONDS + 3)
            except asyncio.TimeoutError:
                return received
            if name == "bot_uttered":
                received.append((time.monotonic() - started, data))
    finally:
        await client.close()


def test_the_crisis_reply_comes_at_once_and_only_once(server: Server, patient) -> None:
    received = asyncio.run(conversation(server, patient.token, CRISIS))

    expected = [{"text": part} for part in parts(crisis_reply())]
    assert [data for _, data in received] == expected  # all of it, once
    first_at = received[0][0]
    # Before the busy assistant could have answered (it takes BUSY_SECONDS per message).
    assert first_at < BUSY_SECONDS * 0.6, f"the crisis reply took {first_at:.2f} s"
    # The assistant still handled the message (risk flag, forms) as usual.
    assert [text for _, text, _, _ in server.agent.received()][-1] == CRISIS


def test_the_crisis_reply_does_not_wait_for_the_token_re_check(
    server: Server, patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-message token check queues in a thread pool when the server is busy; the
    crisis reply (the same for everyone, on a socket verified at connect) goes out first."""
    checked = patient_channel.verify_token

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        time.sleep(BUSY_SECONDS)
        return checked(*args, **kwargs)

    received = asyncio.run(
        conversation(
            server,
            patient.token,
            CRISIS,
            lambda: monkeypatch.setattr(patient_channel, "verify_token", slow_check),
        )
    )
    assert [data for _, data in received] == [{"text": part} for part in parts(crisis_reply())]
    assert received[0][0] < BUSY_SECONDS * 0.3, f"the crisis reply took {received[0][0]:.2f} s"


def rest_say(server: Server, token: str, text: str) -> tuple[float, Any]:
    started = time.monotonic()
    response = requests.post(
        server.rest,
        json={"message": text},
        headers={"Authorization": f"Bearer {token}"},
        timeout=BUSY_SECONDS * 3,
    )
    assert response.status_code == 200, response.text
    return time.monotonic() - started, response.json()


def test_rest_crisis_reply_comes_at_once_and_the_turn_goes_on(server: Server, patient) -> None:
    elapsed, replies = rest_say(server, patient.token, CRISIS)
    assert replies == [{"recipient_id": patient.sender_id, "text": crisis_reply()}]
    assert elapsed < BUSY_SECONDS * 0.6, f"the crisis reply took {elapsed:.2f} s"
    # The turn was handed the message and runs to its end after the response.
    assert [text for _, text, _, _ in server.agent.received()][-1] == CRISIS
    deadline = time.monotonic() + BUSY_SECONDS * 2
    while CRISIS not in server.agent.finished and time.monotonic() < deadline:
        time.sleep(0.1)
    assert CRISIS in server.agent.finished


def test_rest_crisis_reply_brings_the_lines_of_a_turn_that_ends_at_once(
    server: Server, patient
) -> None:
    """The early reply first and once; then what the turn added (the safety plan's line)."""
    deadline = time.monotonic() + BUSY_SECONDS * 3  # earlier tests' turns end first
    while len(server.agent.finished) < len(server.agent.received()) < 1000:
        assert time.monotonic() < deadline, "earlier turns did not end"
        time.sleep(0.1)
    _, replies = rest_say(server, patient.token, QUICK_CRISIS)
    assert replies == [
        {"recipient_id": patient.sender_id, "text": crisis_reply()},
        {"recipient_id": patient.sender_id, "text": PLAN_LINE},
    ]


def test_rest_other_messages_wait_for_their_turn(server: Server, patient) -> None:
    elapsed, replies = rest_say(server, patient.token, "hello over rest")
    assert replies == [{"recipient_id": patient.sender_id, "text": "echo: hello over rest"}]
    assert elapsed >= BUSY_SECONDS * 0.9


def test_other_messages_get_no_early_reply(server: Server, patient) -> None:
    received = asyncio.run(conversation(server, patient.token, "hello there"))
    assert [data for _, data in received] == [{"text": "echo: hello there"}]
    assert received[0][0] >= BUSY_SECONDS * 0.9


def test_the_crisis_reply_is_the_domains() -> None:
    reply = crisis_reply()
    assert reply is not None and "988" in reply and "911" in reply


def test_crisis_replies_come_at_once_while_every_turn_slot_is_taken(server: Server) -> None:
    """Another patient's turn holds the server's only slot: a crisis message, over socket.io
    and over REST, is answered at once, and its turn waits for the slot."""
    busy, over_socket, over_rest = (new_patient("north") for _ in range(3))
    server.agent.finished.clear()
    with ThreadPoolExecutor(max_workers=1) as pool:
        holding = pool.submit(rest_say, server, busy.token, "a long turn")
        time.sleep(BUSY_SECONDS * 0.2)
        elapsed, replies = rest_say(server, over_rest.token, CRISIS)
        assert elapsed < BUSY_SECONDS * 0.3, f"the REST crisis reply took {elapsed:.2f} s"
        assert replies == [{"recipient_id": over_rest.sender_id, "text": crisis_reply()}]
        senders = [sender for sender, *_ in server.agent.received()]
        assert over_rest.sender_id not in senders  # its turn waits for the slot
        received = asyncio.run(conversation(server, over_socket.token, CRISIS))
        assert received[0][0] < BUSY_SECONDS * 0.3, f"socket.io: {received[0][0]:.2f} s"
        holding.result()
    deadline = time.monotonic() + BUSY_SECONDS * 4
    while len(server.agent.finished) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    # One at a time, in the order they came: the long turn first.
    assert server.agent.finished == ["a long turn", CRISIS, CRISIS]
    senders = [sender for sender, *_ in server.agent.received()]
    assert senders[-3:] == [busy.sender_id, over_rest.sender_id, over_socket.sender_id]
