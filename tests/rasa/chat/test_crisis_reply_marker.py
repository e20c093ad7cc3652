"""What marks a crisis reply in the tracker store, as the referrals report reads it
(bot/records/referrals.py): ``metadata.utter_action`` of the stored bot event names the
``utter_crisis_<kind>`` response, whether the crisis policy sent it or an action inside a
form did (``dispatcher.utter_message(response=...)``), once the event is sealed and stored.

Rasa's own code makes the events (``ActionBotResponse`` for a predicted response,
``RemoteAction._utter_responses`` for an action server's answer, with the messages a real
rasa-sdk dispatcher collects), the project's response generator fills them in, and the
project's tracker store writes them to SQLite; the rows are read back as the report reads them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from rasa.core.actions.action import ActionBotResponse, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk.executor import CollectingDispatcher

from bot import encryption
from bot.chat import clinic_nlg
from bot.chat.tracker_store import DatabaseUrlTrackerStore


@pytest.fixture
def domain(project_root: Path) -> Domain:
    return Domain.load(project_root / "domain.yml")


async def _crisis_turn(domain: Domain, sender: str) -> DialogueStateTracker:
    nlg = clinic_nlg.ClinicResponseGenerator(domain=domain)
    output = CollectingOutputChannel()
    tracker = DialogueStateTracker.from_events(
        sender,
        [ActionExecuted("action_listen"), UserUttered("i want to kill myself", {"name": "crisis"})],
        slots=domain.slots,
    )
    # The crisis policy's reply: a predicted response.
    for event in await ActionBotResponse("utter_crisis_overdose").run(output, nlg, tracker, domain):
        tracker.update(event)
    # The same kind of reply sent by an action inside a form (actions/risk.py).
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(response="utter_crisis_suicide")
    dispatcher.utter_message(text="A line of the safety plan.")
    for event in await RemoteAction._utter_responses(dispatcher.messages, output, nlg, tracker):
        tracker.update(event)
    return tracker


def test_stored_crisis_replies_name_their_response(
    domain: Domain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "companion.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    clinic_nlg._cache.clear()
    store = DatabaseUrlTrackerStore(domain=domain)
    tracker = asyncio.run(_crisis_turn(domain, "patient-marker"))
    asyncio.run(store.save(tracker))
    store.engine.dispose()

    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE type_name = 'bot' ORDER BY id"
        ).fetchall()
    assert all(encryption.is_sealed(raw) for (raw,) in rows)
    stored = [json.loads(encryption.open_value(raw)) for (raw,) in rows]
    assert [event["metadata"].get("utter_action") for event in stored] == [
        "utter_crisis_overdose",
        "utter_crisis_suicide",
        None,
    ]
    assert "call 911" in stored[1]["text"].lower()
