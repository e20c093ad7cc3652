"""Custom payloads (a custom action's ``json_message``) reach the widget over socket.io.

The agent here answers the way Rasa's processor hands a bot message with a custom payload to
the output channel (``OutputChannel.send_response`` with ``{"custom": ...}``), on the real
channel and a real socket.io client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from channel_server import RecordingAgent, Server, channel_server
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOOutput
from test_patient_channel import NORTH, Client

pytestmark = pytest.mark.slow

DOWNLOAD = {"download": {"url": "http://localhost:8000/api/my-data/abc", "label": "Your data"}}


@dataclass
class CustomAgent(RecordingAgent):
    """Answers with the custom payload, through our output channel and through Rasa's own."""

    failures: list[str] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> None:
        await super().handle_message(message)
        output = message.output_channel
        await output.send_response(message.sender_id, {"custom": dict(DOWNLOAD)})
        stock = SocketIOOutput(output.sio, output.bot_message_evt)
        try:
            await stock.send_response(message.sender_id, {"custom": dict(DOWNLOAD)})
        except TypeError as error:
            self.failures.append(str(error))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with channel_server(tmp_path_factory.mktemp("custom-json"), agent=CustomAgent()) as running:
        yield running


def test_a_custom_payload_arrives_as_the_data_of_bot_uttered(server: Server) -> None:
    north_a = server.people["north_a"]

    async def scenario() -> list[tuple[str, Any]]:
        client = Client(server)
        try:
            assert await client.connect(north_a.token, NORTH)
            await client.sio.emit("user_uttered", {"message": "my data please"})
            events = [await client.next_event(), await client.next_event()]
            await client.no_event()
            return events
        finally:
            await client.close()

    events = asyncio.run(scenario())

    assert events == [("bot_uttered", {"text": "echo: my data please"}), ("bot_uttered", DOWNLOAD)]
    # Rasa's own SocketIOOutput passes the payload's keys to emit() and fails.
    (failure,) = server.agent.failures
    assert "unexpected keyword argument 'download'" in failure
