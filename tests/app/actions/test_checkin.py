"""Saving a check-in (actions/checkin.py), run the way the action server runs it against a
real journal, on SQLite and on PostgreSQL: the entry, its confirmation, and entries numbered in
order.

Trackers are built the way Rasa sends them (tests/support/action_support.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from action_support import PATIENT, run, slot_events, stored_entries, texts, turn
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin import ActionSaveCheckin
from bot.journal import entries as journal
from bot.journal import replies
from bot.journal.parsing import SKIPPED

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def test_save_checkin(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "checkin_mood": "3",
        "checkin_craving": "8",
        "checkin_note": "😔 long day at work",
    }
    events = run(ActionSaveCheckin(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["mood"], entry["craving"]) == ("checkin", 3, 8)
    assert entry["fields"] == {"note": "😔 long day at work"}
    assert texts(dispatcher) == replies.checkin_confirmation(journal.get_entry(PATIENT, 1))
    assert "mood 3/10" in texts(dispatcher)
    assert set(slot_events(events).values()) == {None}


def test_entries_of_one_patient_are_numbered_in_order(
    domain: dict[str, Any], journal_db: str
) -> None:
    for mood in ("1", "2", "3"):
        slots = {"checkin_mood": mood, "checkin_craving": "0", "checkin_note": SKIPPED}
        run(
            ActionSaveCheckin(),
            CollectingDispatcher(),
            turn(domain, slots=slots),
            domain,
        )
    assert [(e["number"], e["mood"]) for e in stored_entries(journal_db)] == [
        (1, 1),
        (2, 2),
        (3, 3),
    ]
