"""After a session, through the real servers: the greeting offers the reflection for a session
the care team recorded yesterday, a yes starts it with the day filled in (the date question
is not asked), and a day told in a saved reflection is in the calendar."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.journal import session_calendar
from bot.storage import db
from bot.storage.models import Patient, utcnow


@pytest.fixture
def session_yesterday(assistant, sender, journal) -> str:
    """A patient whose care team recorded a session yesterday (the clinic counts in UTC)."""
    journal.save_entry(sender, "checkin", fields={"note": "first"}, mood=6)
    db.reset_engines()
    with db.session_scope(write=False) as session:
        clinic = session.scalars(select(Patient.clinic_id).where(Patient.sender_id == sender)).one()
    day = utcnow().date() - timedelta(days=1)
    made = session_calendar.record_session(
        sender, day, by="dr.lee@clinic.example", source="staff", clinic_id=clinic
    )
    assert made is not None
    return sender


def test_the_greeting_offers_the_reflection_and_yes_starts_it_with_the_day(
    assistant, session_yesterday: str
) -> None:
    sender = session_yesterday
    greeting = assistant.send(sender, "hi")
    said = " ".join(m.get("text", "") for m in greeting)
    assert "Your session was yesterday - would you like to reflect on it now?" in said
    offer = greeting[-1]
    assert offer["text"].startswith("Your session was yesterday")
    assert [b["title"] for b in offer["buttons"]] == ["Yes, let's reflect", "Not now"]

    started = assistant.say(sender, "/affirm")
    assert "reflect on your session" in started
    assert "I've noted the session as" in started
    assert "When was your session?" not in started
