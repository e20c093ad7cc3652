"""Saving a trigger reflection (actions/triggers.py), after a slip or a craving, run the way
the action server runs it against a real journal, on SQLite and on PostgreSQL.

Trackers are built the way Rasa sends them (action_support.py); the journal forms' slots and
validators, and the turns built per slot, are form_support.py's (both in tests/support/).
"""

from __future__ import annotations

from typing import Any

import pytest
from action_support import run, slot_events, stored_entries, texts, turn
from form_support import JUDGEMENT_WORDS, reset_slots_of
from rasa_sdk.executor import CollectingDispatcher

from actions.triggers import ActionSaveTrigger

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def test_save_trigger_after_a_slip(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "trigger_kind": "lapse",
        "trigger_craving": "4",
        "trigger_type": "my ex, and then the bar 🍺",
        "halt": "tired and lonely",
        "trigger_context": "Friday night, payday",
        "coping_response": "I left after one drink and texted my sister",
    }
    events = run(ActionSaveTrigger(), dispatcher, turn(domain, slots=slots), domain)

    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"], entry["craving"]) == (
        "trigger",
        "complete",
        4,
    )
    assert entry["fields"] == {
        "trigger_kind": "lapse",
        "trigger_types": ["people", "places"],
        "trigger_types_text": "my ex, and then the bar 🍺",
        "halt": ["tired", "lonely"],
        "halt_text": "tired and lonely",
        "context": "Friday night, payday",
        "coping": "I left after one drink and texted my sister",
    }
    reset = slot_events(events)
    assert reset["last_trigger_entry"] == 1.0
    assert reset["trigger_kind"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "trigger_form"))
    summary = texts(dispatcher)
    assert "entry #1" in summary
    assert "“I left after one drink and texted my sister”" in summary
    assert not any(word in summary.lower() for word in JUDGEMENT_WORDS)


def test_save_trigger_without_a_category_keeps_the_words(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "trigger_kind": "craving",
        "trigger_type": "my boss called",
        "halt": "none",
    }
    run(ActionSaveTrigger(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert entry["fields"] == {
        "trigger_kind": "craving",
        "trigger_types": [],
        "trigger_types_text": "my boss called",
        "halt": [],
        "halt_text": "none",
    }
