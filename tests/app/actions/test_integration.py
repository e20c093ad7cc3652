"""The session reflection (actions/integration.py), run the way the action server runs it
against a real journal, on SQLite and on PostgreSQL: the session date (from the message that
started the reflection, or asked), and saving the finished reflection.

Trackers are built the way Rasa sends them (action_support.py); the journal forms' slots and
validators, and the turns built per slot, are form_support.py's (both in tests/support/).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from action_support import responses, run, slot_events, stored_entries, texts, turn
from form_support import activation_turn, form_turn, reset_slots_of, validate
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.integration import ActionSaveIntegration
from bot import settings
from bot.journal import replies
from bot.journal.parsing import SKIPPED

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def test_session_date_is_taken_from_the_message_that_started_the_reflection(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = activation_turn(
        domain,
        "integration_form",
        "I had my session yesterday",
        intent="start_integration",
    )
    yesterday = date.today() - timedelta(days=1)
    assert validate(domain, dispatcher, tracker) == {"session_date": yesterday.isoformat()}
    assert texts(dispatcher) == replies.session_date_noted(yesterday)


@pytest.mark.parametrize(
    "text",
    [
        "I'd like to reflect on my session",
        "reflect",
        "session on Monday, but yesterday too",
    ],
)
def test_session_date_is_asked_when_the_start_names_no_single_date(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str
) -> None:
    tracker = activation_turn(domain, "integration_form", text, intent="start_integration")
    assert validate(domain, dispatcher, tracker) == {}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "days_ago"),
    [("today", 0), ("yesterday", 1), ("3 days ago", 3), ("it was last night", 1)],
)
def test_session_date_answers(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, days_ago: int
) -> None:
    expected = (date.today() - timedelta(days=days_ago)).isoformat()
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", text))
    assert slots == {"session_date": expected}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "days_ago"),
    [("a few days ago", 3), ("like a couple days ago i think", 2), ("the other day", 2)],
)
def test_a_rough_session_date_is_taken_and_said_to_be_approximate(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, days_ago: int
) -> None:
    day = date.today() - timedelta(days=days_ago)
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", text))
    assert slots == {"session_date": day.isoformat()}
    assert texts(dispatcher) == replies.session_date_approximate(day)
    assert "around" in texts(dispatcher)


def test_over_the_weekend_is_the_last_saturday(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", "over the weekend"))
    day = date.fromisoformat(slots["session_date"])
    assert day.weekday() == 5 and 1 <= (date.today() - day).days <= 7


def test_session_date_as_a_full_date(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    day = date.today() - timedelta(days=40)
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", day.isoformat()))
    assert slots == {"session_date": day.isoformat()}


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("tomorrow", "utter_date_in_future"),
        ((date.today() + timedelta(days=30)).isoformat(), "utter_date_in_future"),
        ((date.today() - timedelta(days=400)).isoformat(), "utter_date_too_old"),
        ("banana", "utter_date_not_understood"),
        ("last week", "utter_date_not_understood"),
        ("🙂", "utter_date_not_understood"),
    ],
)
def test_session_dates_that_cannot_be_used_are_asked_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, response: str
) -> None:
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", text))
    assert slots == {"session_date": None, "reask": "once"}
    assert responses(dispatcher) == [response]


def test_a_date_in_the_starting_message_is_prefilled_however_rasa_shows_the_form(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    """At activation Rasa may already show the form as active; no question has been asked
    yet (requested_slot is empty), so the starting message's date still fills the slot."""
    started = activation_turn(
        domain, "integration_form", "I had my session yesterday", intent="start_integration"
    )
    tracker = Tracker(
        started.sender_id,
        started.slots,
        started.latest_message,
        started.events,
        False,
        None,
        {"name": "integration_form"},
        "integration_form",
    )
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert validate(domain, dispatcher, tracker) == {"session_date": yesterday}


def test_a_future_date_in_the_starting_message_is_not_prefilled(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    future = (date.today() + timedelta(days=3)).isoformat()
    tracker = activation_turn(
        domain,
        "integration_form",
        f"my session is on {future}",
        intent="start_integration",
    )
    assert validate(domain, dispatcher, tracker) == {}
    assert dispatcher.messages == []


def test_save_integration(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    session_day = date.today() - timedelta(days=1)
    slots = {
        "session_date": session_day.isoformat(),
        "stood_out": "Seeing my daughter's face 👧",
        "feelings": "warmth in my chest\nand some fear",
        "insight": SKIPPED,
        "intention": "Be honest with myself",
        "small_step": "Call Sam on Sunday",
        "mood": "6",
        "craving": SKIPPED,
        "paused_form": "integration_form",
    }
    events = run(ActionSaveIntegration(), dispatcher, turn(domain, slots=slots), domain)

    (entry,) = stored_entries(journal_db)
    assert entry["kind"] == "integration"
    assert entry["status"] == "complete"
    assert entry["session_date"] == session_day.isoformat()
    assert (entry["mood"], entry["craving"]) == (6, None)
    assert entry["fields"] == {
        "stood_out": "Seeing my daughter's face 👧",
        "feelings": "warmth in my chest\nand some fear",
        "intention": "Be honest with myself",
        "small_step": "Call Sam on Sunday",
    }
    summary = texts(dispatcher)
    assert "entry #1" in summary
    assert "“Be honest with myself”" in summary
    assert "“Call Sam on Sunday”" in summary
    reset = slot_events(events)
    assert set(reset) == reset_slots_of(domain, "integration_form") | {"paused_form"}
    assert set(reset.values()) == {None}


@pytest.mark.parametrize("offered", [False, True])
def test_after_a_reflection_the_peer_support_line_is_offered_where_the_clinic_offers_it(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str, offered: bool
) -> None:
    from bot.clinics import registry

    registry.ensure_demo_clinic()
    registry.update(settings.demo_clinic_slug(), peer_support_line=offered)
    slots = {"session_date": date.today().isoformat(), "stood_out": "the music"}
    run(ActionSaveIntegration(), dispatcher, turn(domain, slots=slots), domain)
    assert ("utter_peer_support_line" in responses(dispatcher)) is offered


def test_save_integration_with_everything_skipped(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = dict.fromkeys(domain["forms"]["integration_form"]["required_slots"], SKIPPED)
    run(ActionSaveIntegration(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert entry["fields"] == {}
    assert (entry["session_date"], entry["mood"], entry["craving"]) == (
        None,
        None,
        None,
    )
