"""The chat's data-rights actions against a real database: a copy of the patient's data, and
its erasure, or a request to the clinic where records must be kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from data_rights_support import make_person, raw_values
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.data_rights import ActionEraseMyData, ActionExportMyData
from bot import encryption
from bot.clinics import registry
from bot.journal import entries as journal
from bot.privacy import my_data
from bot.settings import PROJECT_ROOT


@pytest.fixture
def clinic(clinic_db: str) -> str:
    registry.create("northside", "Northside Recovery", origins=["https://northside.example"])
    return "northside"


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


def tracker(sender_id: str, text: str, intent: str) -> Tracker:
    parse = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    events = [{"event": "user", "text": text, "parse_data": parse}]
    return Tracker(sender_id, {}, parse, events, False, None, {}, "action_listen")


def run(action: Any, sender_id: str, text: str, intent: str, domain: dict[str, Any]):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker(sender_id, text, intent), domain))
    return dispatcher.messages, events


def test_erasing_in_the_chat_removes_everything_and_marks_the_moment(
    clinic: str, domain: dict[str, Any]
) -> None:
    person = make_person(clinic, "Ada")
    assert raw_values(person.sender_id)

    messages, events = run(ActionEraseMyData(), person.sender_id, "yes", "affirm", domain)

    assert [m["response"] for m in messages] == ["utter_erased"]
    assert messages[0]["entries"] == 2
    # All that is left is the flag's emptied message: its care team was not told of it yet
    # (bot.privacy.erasure keeps it, without the text, until they are).
    assert [encryption.open_value(value) for value in raw_values(person.sender_id)] == [""]
    assert journal.recent_entries(person.sender_id, 10) == []
    [marker] = events
    assert marker["event"] == "slot" and marker["name"] == "data_erased_at"
    assert datetime.fromisoformat(marker["value"]) <= datetime.now(UTC)
    # The response's variables are the ones domain.yml's text names.
    assert "{entries}" in domain["responses"]["utter_erased"][0]["text"]


def test_a_clinic_that_keeps_records_gets_a_request_instead(
    clinic: str, domain: dict[str, Any]
) -> None:
    registry.update(clinic, erasure_review=True)
    person = make_person(clinic, "Ben")

    first, events = run(ActionEraseMyData(), person.sender_id, "yes", "affirm", domain)
    again, _ = run(ActionEraseMyData(), person.sender_id, "yes", "affirm", domain)

    assert [m["response"] for m in first] == ["utter_erasure_requested"]
    assert [m["response"] for m in again] == ["utter_erasure_already_requested"]
    assert events == []  # nothing erased: the conversation is kept as it is
    assert len(raw_values(person.sender_id)) > 0


def test_someone_with_nothing_stored_is_told_so(clinic: str, domain: dict[str, Any]) -> None:
    erase, events = run(ActionEraseMyData(), "never-seen", "yes", "affirm", domain)
    export, _ = run(ActionExportMyData(), "never-seen", "export my data", "export_my_data", domain)
    assert [m["response"] for m in erase] == ["utter_nothing_to_erase"]
    assert [m["response"] for m in export] == ["utter_nothing_to_export"]
    assert events == []


def test_the_export_offer_is_for_the_patients_own_data(clinic: str, domain: dict[str, Any]) -> None:
    person = make_person(clinic, "Cai")
    [message], events = run(
        ActionExportMyData(), person.sender_id, "export my data", "export_my_data", domain
    )
    assert message["response"] == "utter_export_ready"
    assert 1 <= message["minutes"] <= 10
    # The link itself is made when the patient presses the button
    # (tests/app/web/test_my_data_link.py).
    assert (message["url"], message["readable_url"]) == ("", "")
    # The link the widget then gets names this patient, whose document holds their own words.
    url, _ = my_data.export_link(person.sender_id)
    assert url.startswith("https://companion.example/api/my-data/")
    assert my_data.verify_token(url.rsplit("/", 1)[1]).sender_id == person.sender_id
    assert person.journal_text in str(my_data.export_document(person.sender_id))
    assert events == []


def test_a_database_failure_is_answered_and_erases_nothing(
    clinic: str, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    person = make_person(clinic, "Dee")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    from bot.storage import db

    db.reset_engines()
    (tmp_path / "missing").mkdir()
    (tmp_path / "missing" / "dir").write_text("not a directory")
    messages, events = run(ActionEraseMyData(), person.sender_id, "yes", "affirm", domain)
    assert [m["response"] for m in messages] == ["utter_erase_failed"]
    assert events == []
