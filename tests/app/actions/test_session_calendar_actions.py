"""After a session in the chat (actions/session_calendar.py, actions/reminders.py and the
session date of actions/integration.py), run as the action server runs them against a real
journal: the greeting's one offer (the reflection first, then a check-in, then a measure),
a yes that starts the offered flow with the session's day filled in, a reflection's day
recorded in the calendar once, and reminders turned on and off."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from action_support import PATIENT, form_turn, responses, run, slot_events, turn
from form_support import activation_turn, validate
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.forms import EntryDraft, save_draft
from actions.reminders import (
    ActionSaveReminders,
    ActionStopReminders,
    ValidateReminderForm,
)
from actions.session_calendar import ActionOfferAtGreeting, ActionTakeGreetingOffer
from bot.clinics import reminders
from bot.journal import entries as journal
from bot.journal import measure_records, replies, session_calendar
from bot.storage import db
from bot.storage.models import Patient, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture
def patient(journal_db: str) -> int:
    """The patient exists (they wrote a check-in); their clinic's id."""
    journal.save_entry(PATIENT, "checkin", fields={"note": "hello"}, mood=5)
    with db.session_scope(write=False) as session:
        return session.scalars(select(Patient.clinic_id).where(Patient.sender_id == PATIENT)).one()


def greet(domain: dict[str, Any]) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = run(ActionOfferAtGreeting(), dispatcher, turn(domain, "hi", intent="greet"), domain)
    return dispatcher, slot_events(events)


def staff_session(day: date) -> None:
    assert session_calendar.record_session(PATIENT, day, by="dr.lee", source="staff")


def test_one_offer_per_greeting_the_reflection_first(domain: dict[str, Any], patient: int) -> None:
    dispatcher, slots = greet(domain)
    assert dispatcher.messages == [] and slots["greeting_offer"] is None

    measure_records.schedule(patient, PATIENT, "gad7", by="dr.lee@clinic.example")
    dispatcher, slots = greet(domain)
    assert responses(dispatcher) == ["utter_offer_measure"]
    assert slots["greeting_offer"] == "measure"

    yesterday = date.today() - timedelta(days=1)
    staff_session(yesterday)
    dispatcher, slots = greet(domain)
    assert responses(dispatcher) == ["utter_offer_session_reflection"]
    assert dispatcher.messages[0]["when"] in {"yesterday", "today"}  # midnight UTC or later
    assert slots == {"greeting_offer": "reflection", "offered_session_date": yesterday.isoformat()}


def test_a_check_in_is_offered_once_when_the_session_was_reflected_on(
    domain: dict[str, Any], patient: int
) -> None:
    # A session that started 26 hours ago (the clinic counts in UTC): day mark 1 is open.
    start = utcnow() - timedelta(hours=26)
    assert session_calendar.record_session(
        PATIENT, start.date(), by="dr.lee", source="staff", at_time=start.strftime("%H:%M")
    )
    journal.save_entry(PATIENT, "integration", fields={"stood_out": "x"}, session_date=start.date())
    dispatcher, slots = greet(domain)
    assert responses(dispatcher) == ["utter_offer_session_checkin"]
    assert slots["greeting_offer"] == "checkin"
    dispatcher, slots = greet(domain)
    assert dispatcher.messages == [] and slots["greeting_offer"] is None


def test_a_yes_starts_the_offered_flow(domain: dict[str, Any], dispatcher: CollectingDispatcher):
    yes = turn(domain, "yes", intent="affirm", slots={"greeting_offer": "reflection"})
    events = run(ActionTakeGreetingOffer(), dispatcher, yes, domain)
    assert responses(dispatcher) == ["utter_integration_intro"]
    assert events[-1] == FollowupAction("integration_form")
    checkin = turn(domain, "yes", intent="affirm", slots={"greeting_offer": "checkin"})
    assert run(ActionTakeGreetingOffer(), dispatcher, checkin, domain)[-1] == FollowupAction(
        "checkin_form"
    )
    menu = CollectingDispatcher()
    run(ActionTakeGreetingOffer(), menu, turn(domain, "yes", intent="affirm"), domain)
    assert responses(menu) == ["utter_help"]


def test_the_reflection_starts_with_the_offered_day(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    day = date.today() - timedelta(days=1)
    tracker = activation_turn(
        domain,
        "integration_form",
        "yes",
        intent="affirm",
        slots={"offered_session_date": day.isoformat()},
    )
    assert validate(domain, dispatcher, tracker) == {"session_date": day.isoformat()}
    assert dispatcher.messages[0]["text"] == replies.session_date_noted(day)
    # A reflection asked for later, in other words, asks for its own date.
    later = activation_turn(
        domain,
        "integration_form",
        "can we do a reflection",
        intent="start_integration",
        slots={"offered_session_date": day.isoformat()},
    )
    assert validate(domain, CollectingDispatcher(), later) == {}


def test_a_reflections_day_is_recorded_once_as_told_by_the_patient(patient: int) -> None:
    day = date.today() - timedelta(days=1)
    draft = EntryDraft(kind="integration", fields={"stood_out": "calm"}, session_date=day)
    save_draft(PATIENT, draft)
    save_draft(PATIENT, draft, "partial")
    sessions = session_calendar.recorded_sessions(PATIENT)
    assert [(s.session_on, s.source) for s in sessions] == [(day, "patient")]


def reminder_turn(domain: dict[str, Any], slot: str, text: str, intent: str, value: Any) -> Any:
    return form_turn(domain, "reminder_form", slot, text, intent=intent, extracted=value)


def validate_reminders(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Any
) -> dict[str, Any]:
    events = slot_events(run(ValidateReminderForm(), dispatcher, tracker, domain))
    return {name: value for name, value in events.items() if name != "requested_slot"}


def test_reminders_are_asked_confirmed_turned_on_and_off(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, patient: int
) -> None:
    bad = reminder_turn(domain, "reminder_email", "my email", "inform", "my email")
    assert validate_reminders(domain, dispatcher, bad) == {"reminder_email": None}
    assert responses(dispatcher) == ["utter_reminder_email_invalid"]
    good = reminder_turn(domain, "reminder_email", "me@mail.example", "inform", "me@mail.example")
    assert validate_reminders(domain, CollectingDispatcher(), good) == {
        "reminder_email": "me@mail.example"
    }
    no = reminder_turn(domain, "reminder_email_confirmed", "no", "deny", False)
    assert validate_reminders(domain, CollectingDispatcher(), no) == {
        "reminder_email": None,
        "reminder_email_confirmed": None,
    }

    done = CollectingDispatcher()
    confirmed = {"reminder_email": "me@mail.example", "reminder_email_confirmed": True}
    events = run(ActionSaveReminders(), done, turn(domain, slots=confirmed), domain)
    assert responses(done) == ["utter_reminders_on"]
    assert slot_events(events) == {"reminder_email": None, "reminder_email_confirmed": None}
    active = reminders.active_subscription(PATIENT)
    assert active is not None and active.address == "me@mail.example"

    stopped = CollectingDispatcher()
    run(ActionStopReminders(), stopped, turn(domain, "stop reminders"), domain)
    run(ActionStopReminders(), stopped, turn(domain, "stop reminders"), domain)
    assert responses(stopped) == ["utter_reminders_stopped", "utter_reminders_were_off"]
    assert reminders.active_subscription(PATIENT) is None


def test_no_reminders_without_a_yes(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, patient: int
) -> None:
    cancel = reminder_turn(domain, "reminder_email", "no thanks", "deny", "no thanks")
    assert validate_reminders(domain, dispatcher, cancel) == {
        "reminder_email": "cancelled",
        "reminder_email_confirmed": False,
    }
    slots = {"reminder_email": "cancelled", "reminder_email_confirmed": False}
    run(ActionSaveReminders(), dispatcher, turn(domain, slots=slots), domain)
    assert responses(dispatcher) == ["utter_reminders_not_set"]
    assert reminders.active_subscription(PATIENT) is None


def test_the_reflection_is_offered_once_per_conversation(
    domain: dict[str, Any], patient: int
) -> None:
    """A second hello in the same conversation is not asked the same question; a new
    conversation (Rasa started a new session) is."""
    staff_session(date.today() - timedelta(days=1))
    offered = {
        "event": "bot",
        "text": "…",
        "metadata": {"utter_action": "utter_offer_session_reflection"},
    }
    again = turn(domain, "hi again", intent="greet")
    again.events[:0] = [{"event": "session_started"}, offered, {"event": "user", "text": "no"}]
    dispatcher = CollectingDispatcher()
    slots = slot_events(run(ActionOfferAtGreeting(), dispatcher, again, domain))
    assert dispatcher.messages == [] and slots["greeting_offer"] is None

    next_day = turn(domain, "hi", intent="greet")
    next_day.events[:0] = [offered, {"event": "session_started"}]
    dispatcher = CollectingDispatcher()
    slots = slot_events(run(ActionOfferAtGreeting(), dispatcher, next_day, domain))
    assert responses(dispatcher) == ["utter_offer_session_reflection"]
    assert slots["greeting_offer"] == "reflection"
