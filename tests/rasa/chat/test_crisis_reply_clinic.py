"""Crisis replies name the patient's own clinic's numbers (bot/chat/clinic_nlg.py,
bot/safety/crisis_replies.py), on the real channels: a clinic outside the US gets its own
emergency number and lines; with the database unreachable an open chat still gets the crisis
reply, from the copy of the settings read before, or with the defaults' numbers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from channel_server import Person, Server, channel_server, run_app_code
from test_patient_channel import Client

from bot import patient_tokens
from bot.chat import clinic_nlg

UK = "https://uk.example"
CRISIS = "i want to kill myself"

SEED_UK = """
import json, sys
from datetime import timedelta
from bot import patient_consent
from bot.clinics import patients, registry

registry.create("uk", "UK clinic", origins=["https://uk.example"])
registry.update("uk", emergency_number="999", crisis_lines=[
    {"name": "Samaritans", "number": "116 123", "kinds": ["suicide", "self_harm", "ask", "recent"]},
    {"name": "Emergency services", "number": "999"},
])
people = {}
for name in ("first", "second"):
    invite = patients.invite("uk", timedelta(days=1))
    patient_consent.record(invite.sender_id, "uk", 1)  # as their widget did: "I agree"
    people[name] = {"sender_id": invite.sender_id, "clinic": "uk", "token": invite.token,
                    "link_id": invite.link_id}
json.dump(people, sys.stdout)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with channel_server(tmp_path_factory.mktemp("crisis-clinic")) as running:
        running.people.update(
            {name: Person(**fields) for name, fields in run_app_code(SEED_UK).items()}
        )
        clinic_nlg._cache.clear()
        yield running


@pytest.mark.slow
def test_a_clinic_outside_the_us_gets_its_own_numbers(server: Server) -> None:
    person = server.people["first"]
    response = requests.post(
        server.rest,
        json={"message": CRISIS},
        headers={"Authorization": f"Bearer {person.token}"},
        timeout=30,
    )
    # The crisis reply first; then what the (recording) assistant's own turn said.
    reply, *turn = response.json()
    assert [message["text"] for message in turn] == [f"echo: {CRISIS}"]
    assert "call 999" in reply["text"] and "Samaritans: 116 123" in reply["text"]
    assert "911" not in reply["text"] and "988" not in reply["text"]


async def crisis_over_socket(server: Server, person: Person, break_database) -> str:
    client = Client(server)
    try:
        assert await client.connect(person.token, UK)
        break_database()
        await client.sio.emit("user_uttered", {"message": CRISIS})
        name, data = await client.next_event()
        assert name == "bot_uttered"
        return data["text"]
    finally:
        await client.close()


def test_with_the_database_down_an_open_chat_gets_the_last_copy_of_the_numbers(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic_nlg._cache.clear()
    first = server.people["first"]
    requests.post(  # the server reads the clinic's settings once
        server.rest,
        json={"message": CRISIS},
        headers={"Authorization": f"Bearer {first.token}"},
        timeout=30,
    )
    monkeypatch.setattr(clinic_nlg, "REFRESH_SECONDS", 0.0)

    def break_database() -> None:
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'gone' / 'companion.db'}")
        patient_tokens.reset()

    text = asyncio.run(crisis_over_socket(server, server.people["second"], break_database))
    patient_tokens.reset()
    assert "call 999" in text, text  # the first paragraph of the reply, as its own event


def test_with_the_database_down_and_no_copy_the_defaults_numbers_are_given(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic_nlg._cache.clear()

    def break_database() -> None:
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'gone' / 'companion.db'}")
        patient_tokens.reset()

    text = asyncio.run(crisis_over_socket(server, server.people["second"], break_database))
    patient_tokens.reset()
    assert "call 911" in text, text
