"""The session calendar (bot/journal/session_calendar.py) on a real database: sessions recorded
by staff or told by the patient (one per day), deleted, read back; the integration window and
the day marks counted from a session's start in the clinic's time zone, at their boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clinics import patients, registry
from bot.journal import entries as journal
from bot.journal import session_calendar
from bot.storage import db
from bot.storage.models import AuditEvent

pytestmark = pytest.mark.databases("sqlite", "postgresql")

DAY = date(2026, 11, 2)
#: The session's start when it has no time, in a clinic on UTC.
START = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture
def sender(clinic_db: str) -> str:
    registry.create("harbour", "Harbour Recovery", origins=["https://harbour.example"])
    return patients.invite("harbour").sender_id


def record(sender: str, day: date = DAY, **more: object) -> session_calendar.SessionView:
    made = session_calendar.record_session(
        sender, day, by="dr.lee@harbour.example", source="staff", today=day, **more
    )
    assert made is not None
    return made[0]


def test_a_day_is_recorded_once_whoever_tells_it(sender: str) -> None:
    staff = record(sender)
    assert session_calendar.record_patient_session(sender, DAY) is False
    assert session_calendar.record_patient_session(sender, DAY + timedelta(days=14)) is True
    sessions = session_calendar.recorded_sessions(sender)
    assert [(s.session_on, s.source) for s in sessions] == [
        (DAY + timedelta(days=14), "patient"),
        (DAY, "staff"),
    ]
    assert sessions[1] == staff
    with db.session_scope(write=False) as session:
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "record_session")
        ).all()
    assert [(row.actor, row.target) for row in audited] == [("patient", sender)]


def test_an_unknown_patient_or_a_bad_time_records_nothing(sender: str) -> None:
    assert session_calendar.record_patient_session("nobody", DAY) is False
    with pytest.raises(ValueError):
        record(sender, at_time="25:00")
    with pytest.raises(ValueError):
        session_calendar.record_session(
            sender, DAY, by="x", source="staff", today=DAY + timedelta(days=400)
        )
    assert session_calendar.recorded_sessions(sender) == []


def test_staff_delete_a_wrong_session_of_their_own_clinic_only(sender: str) -> None:
    view = record(sender)
    registry.create("other", "Other Clinic", origins=["https://other.example"])
    other = registry.get_clinic("other")
    assert other is not None
    with db.session_scope(write=False) as session:
        from bot.storage.models import Clinic

        other_id = session.scalar(select(Clinic.id).where(Clinic.slug == "other"))
        harbour_id = session.scalar(select(Clinic.id).where(Clinic.slug == "harbour"))
    assert session_calendar.delete_session(other_id, sender, view.id) is None
    assert session_calendar.delete_session(harbour_id, sender, view.id) == view
    assert session_calendar.recorded_sessions(sender) == []


def test_last_session_before_a_moment(sender: str) -> None:
    record(sender, DAY)
    record(sender, DAY + timedelta(days=10), at_time="14:30")
    before = session_calendar.last_session_before(sender, START + timedelta(days=10, hours=14))
    assert before is not None and before.session_on == DAY
    after = session_calendar.last_session_before(sender, START + timedelta(days=10, hours=15))
    assert after is not None and after.session_on == DAY + timedelta(days=10)
    assert session_calendar.last_session_before(sender, START) is None


def offer(sender: str, at: datetime) -> tuple[str, int | None] | None:
    found = session_calendar.greeting_offer(sender, at)
    return None if found is None else (found.kind, found.mark)


def test_the_reflection_is_offered_from_0_to_72_hours_until_it_is_written(sender: str) -> None:
    record(sender)
    assert offer(sender, START - timedelta(seconds=1)) is None
    assert offer(sender, START) == ("reflection", None)
    found = session_calendar.greeting_offer(sender, START + timedelta(hours=30))
    assert found is not None and found.days_ago == 1
    assert session_calendar.session_when(found) == "yesterday"
    assert offer(sender, START + timedelta(hours=72) - timedelta(seconds=1)) == ("reflection", None)
    # 72 hours on, the window is closed (day 3's check-in is offered instead).
    assert offer(sender, START + timedelta(hours=72)) == ("checkin", 3)

    journal.save_entry(sender, "integration", fields={"stood_out": "calm"}, session_date=DAY)
    assert offer(sender, START + timedelta(hours=1)) is None  # reflected; day 1 not open yet
    assert offer(sender, START + timedelta(hours=25)) == ("checkin", 1)


def test_each_day_mark_is_offered_once_within_its_day(sender: str) -> None:
    record(sender)
    journal.save_entry(sender, "integration", fields={"stood_out": "calm"}, session_date=DAY)
    for mark in (1, 3, 7):
        opens = START + timedelta(days=mark)
        assert offer(sender, opens - timedelta(seconds=1)) is None
        found = session_calendar.greeting_offer(sender, opens)
        assert found is not None and (found.kind, found.mark) == ("checkin", mark)
        assert session_calendar.note_offered(sender, found) is True
        assert session_calendar.note_offered(sender, found) is False
        assert offer(sender, opens + timedelta(hours=23)) is None
    assert offer(sender, START + timedelta(days=8)) is None


def test_a_newer_session_takes_over_and_the_time_zone_moves_the_start(sender: str) -> None:
    registry.update("harbour", timezone="America/New_York")
    record(sender, DAY, at_time="10:00")
    # 10:00 in New York on 2 November 2026 (EST) is 15:00 UTC.
    start = datetime(2026, 11, 2, 15, tzinfo=UTC)
    assert offer(sender, start - timedelta(minutes=1)) is None
    assert offer(sender, start) == ("reflection", None)
    record(sender, DAY + timedelta(days=5))
    newer = session_calendar.greeting_offer(sender, datetime(2026, 11, 8, 12, tzinfo=UTC))
    assert newer is not None and newer.session.session_on == DAY + timedelta(days=5)
