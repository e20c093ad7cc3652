"""Stopping a form part-way (actions/stopping.py): pausing it, then keeping what was written
or discarding it - run the way the action server runs it against a real journal, on SQLite and
on PostgreSQL.

Trackers are built the way Rasa sends them (action_support.py); the journal forms' slots and
validators, and the turns built per slot, are form_support.py's (both in tests/support/).
"""

from __future__ import annotations

from typing import Any

import pytest
from action_support import responses, run, slot_events, stored_entries, texts, turn
from form_support import VALIDATORS, reset_slots_of
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.stopping import ActionDiscardPartial, ActionKeepPartial, ActionStopForm
from bot.journal import replies
from bot.journal.parsing import SKIPPED

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.mark.parametrize("form", sorted(VALIDATORS))
def test_stop_pauses_the_active_form(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, form: str
) -> None:
    tracker = turn(domain, "stop", intent="stop", active_loop=form)
    events = run(ActionStopForm(), dispatcher, tracker, domain)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert slot_events(events) == {"requested_slot": None, "paused_form": form}
    assert responses(dispatcher) == ["utter_ask_keep_or_discard"]


def test_stop_without_a_form(domain: dict[str, Any], dispatcher: CollectingDispatcher) -> None:
    events = run(ActionStopForm(), dispatcher, turn(domain, "stop", intent="stop"), domain)
    assert events == []
    assert responses(dispatcher) == ["utter_nothing_paused"]


def test_keep_saves_the_answered_part_as_partial(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "paused_form": "integration_form",
        "session_date": SKIPPED,
        "stood_out": "the silence afterwards",
        "feelings": SKIPPED,
    }
    events = run(ActionKeepPartial(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"]) == ("integration", "partial")
    assert entry["fields"] == {"stood_out": "the silence afterwards"}
    assert "entry #1" in texts(dispatcher)
    reset = slot_events(events)
    assert reset["paused_form"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "integration_form"))


def test_keep_a_stopped_trigger_reflection(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "paused_form": "trigger_form",
        "trigger_kind": "craving",
        "trigger_craving": "9",
    }
    events = run(ActionKeepPartial(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"], entry["craving"]) == (
        "trigger",
        "partial",
        9,
    )
    assert entry["fields"] == {"trigger_kind": "craving"}
    assert slot_events(events)["trigger_kind"] is None


def test_keep_with_nothing_answered_saves_nothing(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {"paused_form": "checkin_form", "checkin_mood": SKIPPED}
    events = run(ActionKeepPartial(), dispatcher, turn(domain, slots=slots), domain)
    assert stored_entries(journal_db) == []
    assert texts(dispatcher) == replies.NOTHING_TO_KEEP
    assert slot_events(events)["paused_form"] is None


def test_discard_saves_nothing_and_clears_the_answers(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "paused_form": "checkin_form",
        "checkin_mood": "4",
        "checkin_note": "rough",
    }
    events = run(ActionDiscardPartial(), dispatcher, turn(domain, slots=slots), domain)
    assert stored_entries(journal_db) == []
    assert texts(dispatcher) == replies.DISCARDED
    reset = slot_events(events)
    assert reset["paused_form"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "checkin_form"))


@pytest.mark.parametrize("action", [ActionKeepPartial(), ActionDiscardPartial()])
def test_keep_or_discard_with_nothing_paused(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    action: Action,
) -> None:
    events = run(action, dispatcher, turn(domain, "keep it", intent="keep_entry"), domain)
    assert events == []
    assert responses(dispatcher) == ["utter_nothing_paused"]
    assert stored_entries(journal_db) == []
