"""Recording a risk flag (actions/safety.py) after a crisis reply, run the way the action
server runs it against a real journal, on SQLite and on PostgreSQL: the detector's verdict or
the classifier's, a form's answers kept as interrupted, and never a crash or the message in
the logs.

Trackers are built the way Rasa sends them (action_support.py); the journal forms' slots and
validators, and the turns built per slot, are form_support.py's (both in tests/support/).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pytest
from action_support import run, slot_events, stored_entries, stored_flags, turn
from form_support import reset_slots_of
from rasa_sdk.executor import CollectingDispatcher

from actions.safety import ActionRecordRiskFlag

pytestmark = pytest.mark.databases("sqlite", "postgresql")

CRISIS_TEXT = "I don't want to be here anymore"


def test_risk_flag_with_the_detectors_verdict(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = turn(
        domain,
        CRISIS_TEXT,
        intent="crisis",
        crisis_detection={"category": "suicidal_ideation", "source": "lexicon"},
    )
    events = run(ActionRecordRiskFlag(), dispatcher, tracker, domain)
    assert stored_flags(journal_db) == [
        {
            "level": "urgent",
            "category": "suicidal_ideation",
            "source": "lexicon",
            "message": CRISIS_TEXT,
        }
    ]
    assert dispatcher.messages == []
    assert events == []


def test_risk_flag_from_the_classifier_alone(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionRecordRiskFlag(),
        dispatcher,
        turn(domain, CRISIS_TEXT, intent="crisis"),
        domain,
    )
    assert stored_flags(journal_db) == [
        {"level": "urgent", "category": None, "source": "classifier", "message": CRISIS_TEXT}
    ]
    assert dispatcher.messages == []


def test_risk_flag_in_a_form_keeps_the_answers_as_interrupted(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "requested_slot": "insight",
        "session_date": (date.today() - timedelta(days=2)).isoformat(),
        "stood_out": "my father's voice",
        "feelings": "grief, heavy",
    }
    tracker = turn(
        domain,
        CRISIS_TEXT,
        intent="crisis",
        slots=slots,
        active_loop="integration_form",
    )
    events = run(ActionRecordRiskFlag(), dispatcher, tracker, domain)

    assert len(stored_flags(journal_db)) == 1
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"]) == ("integration", "interrupted")
    assert entry["fields"] == {
        "stood_out": "my father's voice",
        "feelings": "grief, heavy",
    }
    assert dispatcher.messages == []
    reset = slot_events(events)
    assert set(reset) == reset_slots_of(domain, "integration_form")
    assert set(reset.values()) == {None}


def test_risk_flag_in_a_form_with_nothing_answered(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = turn(domain, CRISIS_TEXT, intent="crisis", active_loop="checkin_form")
    run(ActionRecordRiskFlag(), dispatcher, tracker, domain)
    assert len(stored_flags(journal_db)) == 1
    assert stored_entries(journal_db) == []
    assert dispatcher.messages == []


def test_risk_flag_never_crashes_and_never_logs_the_message(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    failing_journal: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slots = {"checkin_mood": "1", "checkin_note": "everything is too much"}
    tracker = turn(domain, CRISIS_TEXT, intent="crisis", slots=slots, active_loop="checkin_form")
    with caplog.at_level(logging.DEBUG):
        events = run(ActionRecordRiskFlag(), dispatcher, tracker, domain)
    assert events == []
    assert dispatcher.messages == []
    assert len(caplog.records) >= 2
    assert "anymore" not in caplog.text
    assert "too much" not in caplog.text
