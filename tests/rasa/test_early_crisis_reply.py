"""A crisis message over socket.io gets the crisis reply before the assistant's pipeline has
answered it, and only once; other messages get no early reply.

The agent here stands for a Rasa server busy with other patients: it takes two seconds per
message and then answers a crisis message with ``utter_crisis``, as the crisis policy does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channel_server import RecordingAgent, Server, channel_server
from rasa.core.channels.channel import UserMessage
from test_patient_channel import NORTH, Client

from bot.nlu.patient_channel import crisis_reply

BUSY_SECONDS = 3.0
CRISIS = "i want to kill myself"


class BusyAgent(RecordingAgent):
    """Answers after a while: the crisis reply to crisis messages, an echo to the rest."""

    async def handle_message(self, message: UserMessage) -> None:
        with self.lock:
            self.messages.append(message)
        await asyncio.sleep(BUSY_SECONDS)
        text = crisis_reply() if "kill myself" in (message.text or "") else f"echo: {message.text}"
        await message.output_channel.send_text_message(message.sender_id, text)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with channel_server(tmp_path_factory.mktemp("early-crisis"), agent=BusyAgent()) as running:
        yield running


def parts(text: str) -> list[str]:
    """How Rasa's socket.io output splits a reply into events (one per paragraph)."""
    return text.strip().split("\n\n")


async def conversation(server: Server, token: str, text: str) -> list[tuple[float, Any]]:
    client = Client(server)
    try:
        assert await client.connect(token, NORTH)
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


def test_other_messages_get_no_early_reply(server: Server, patient) -> None:
    received = asyncio.run(conversation(server, patient.token, "hello there"))
    assert [data for _, data in received] == [{"text": "echo: hello there"}]
    assert received[0][0] >= BUSY_SECONDS * 0.9


def test_the_crisis_reply_is_the_domains() -> None:
    reply = crisis_reply()
    assert reply is not None and "988" in reply and "911" in reply
