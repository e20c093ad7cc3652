"""Urge surfing (actions/urge_surfing.py): added to the craving it followed or an entry of its
own, and an urge that did not drop met without judgement - run the way the action server runs
it against a real journal, on SQLite and on PostgreSQL.

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
from actions.urge_surfing import ActionFinishUrgeSurfing
from bot.journal.parsing import SKIPPED

pytestmark = pytest.mark.databases("sqlite", "postgresql")

URGE_ANSWERS = {
    "surf_before": "8",
    "surf_location": "tight chest, hot hands",
    "surf_change": "it moved up to my throat, then eased",
    "surf_after": "5",
}
URGE_STORED = {
    "before": 8,
    "location": "tight chest, hot hands",
    "change": "it moved up to my throat, then eased",
    "after": 5,
}


def test_urge_surfing_is_added_to_the_craving_it_followed(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionSaveTrigger(),
        CollectingDispatcher(),
        turn(domain, slots={"trigger_kind": "craving", "trigger_craving": "8"}),
        domain,
    )
    slots = URGE_ANSWERS | {"last_trigger_entry": 1.0}
    events = run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)

    (entry,) = stored_entries(journal_db)
    assert entry["fields"]["urge_surfing"] == URGE_STORED
    assert entry["fields"]["trigger_kind"] == "craving"
    assert "from 8 to 5" in texts(dispatcher)
    assert "entry #1" in texts(dispatcher)
    reset = slot_events(events)
    assert reset["last_trigger_entry"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "urge_surfing_form"))


@pytest.mark.parametrize("last_trigger_entry", [None, 7.0])
def test_urge_surfing_on_its_own_becomes_a_craving_entry(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    last_trigger_entry: float | None,
) -> None:
    slots = URGE_ANSWERS | {"last_trigger_entry": last_trigger_entry}
    run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["craving"], entry["status"]) == (
        "trigger",
        8,
        "complete",
    )
    assert entry["fields"] == {"trigger_kind": "craving", "urge_surfing": URGE_STORED}


@pytest.mark.parametrize(
    ("before", "after", "phrase"),
    [("5", "7", "from 5 to 7"), ("6", "6", "stayed at 6")],
)
def test_an_urge_that_did_not_drop_is_met_without_judgement(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    before: str,
    after: str,
    phrase: str,
) -> None:
    slots = URGE_ANSWERS | {"surf_before": before, "surf_after": after}
    run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)
    said = texts(dispatcher)
    assert phrase in said
    assert not any(word in said.lower() for word in JUDGEMENT_WORDS)


def test_urge_surfing_with_skipped_ratings(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = URGE_ANSWERS | {"surf_before": SKIPPED, "surf_after": SKIPPED}
    run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert entry["craving"] is None
    assert entry["fields"]["urge_surfing"] == {
        "location": "tight chest, hot hands",
        "change": "it moved up to my throat, then eased",
    }
