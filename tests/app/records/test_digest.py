"""The "since the last session" digest (bot.records.digest, bot.records.unanswered), button
titles in transcripts (bot.records.button_titles) and the clinic's time zone in the record, on
real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot import records
from bot.clinics import registry
from bot.content.psychoeducation import REPHRASE
from bot.records import digest as digests
from bot.records import exports
from bot.storage import db
from bot.storage.models import (
    Clinic,
    FlagAction,
    JournalEntry,
    MeasureResult,
    MeasureSchedule,
    Patient,
    RiskFlag,
)
from bot.storage.rasa_events import EVENTS

pytestmark = pytest.mark.databases("sqlite", "postgresql")

#: "Now" for every digest here: a Monday evening in December (GMT = UTC, PST = UTC-8).
NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
SESSION = date(2026, 12, 3)
REQUEST = "<script>alert(1)</script> Can we move Thursday's session?"
QUESTION = "can I drive <b>home</b> after a session?"


def _at(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def _patient(slug: str, sender_id: str, zone: str = "Europe/London") -> records.PatientRef:
    with db.session_scope() as session:
        clinic = Clinic(slug=slug, name=f"{slug} clinic", origins=[], timezone=zone)
        session.add(clinic)
        session.flush()
        session.add(Patient(sender_id=sender_id, clinic_id=clinic.id))
        clinic_id = clinic.id
    patient = records.find_patient(clinic_id, sender_id)
    assert patient is not None
    return patient


def _entry(
    session: Session, patient_id: int, number: int, kind: str, at: datetime, **values: Any
) -> None:
    fields = values.pop("fields", {"note": f"entry {number}"})
    session.add(
        JournalEntry(
            patient_id=patient_id,
            number=number,
            kind=kind,
            status="complete",
            created_at=at,
            fields=fields,
            **values,
        )
    )


class _Events:
    """``events`` rows as Rasa 3.6 writes them (text, intent, the reply's response name)."""

    def __init__(self, sender_id: str) -> None:
        self.sender_id = sender_id
        self.rows: list[dict[str, Any]] = []

    def _add(self, type_name: str, at: datetime, data: dict[str, Any], **columns: Any) -> None:
        data = {"event": type_name, "timestamp": at.timestamp(), **data}
        self.rows.append(
            {
                "sender_id": self.sender_id,
                "type_name": type_name,
                "timestamp": at.timestamp(),
                "intent_name": columns.get("intent_name"),
                "action_name": columns.get("action_name"),
                "data": json.dumps(data),
            }
        )

    def start(self, at: datetime) -> None:
        self._add(
            "action", at, {"name": "action_session_start"}, action_name="action_session_start"
        )
        self._add("session_started", at, {})

    def user(self, at: datetime, text: str, intent: str = "inform") -> None:
        parse = {"intent": {"name": intent, "confidence": 0.9}, "text": text}
        self._add("user", at, {"text": text, "parse_data": parse}, intent_name=intent)

    def bot(
        self,
        at: datetime,
        text: str,
        utter: str | None = None,
        buttons: list[tuple[str, str]] | None = None,
    ) -> None:
        if utter:
            self._add("action", at, {"name": utter}, action_name=utter)
        data = {"buttons": [{"title": t, "payload": p} for t, p in buttons or ()]}
        self._add("bot", at, {"text": text, "metadata": {"utter_action": utter}, "data": data})

    def save(self) -> None:
        EVENTS.metadata.create_all(db.get_engine(), tables=[EVENTS])
        with db.get_engine().begin() as connection:
            connection.execute(EVENTS.insert(), self.rows)


def _seed_week(patient: records.PatientRef) -> None:
    """A week since a session on 3 Dec, and older things the digest must leave out."""
    with db.session_scope() as session:
        pid = patient.id
        _entry(session, pid, 1, "checkin", _at(1, 9, month=11), mood=1, craving=9)
        _entry(session, pid, 2, "integration", _at(4, 9), session_date=SESSION, mood=6, craving=3)
        _entry(session, pid, 3, "checkin", _at(5, 20), mood=4, craving=7)
        lapse = {
            "trigger_kind": "lapse",
            "substances": ["alcohol"],
            "lapse_date": "2026-12-05",
            "lapse_when": "friday <i>late</i>",
        }
        _entry(session, pid, 4, "trigger", _at(6, 8), craving=8, fields=lapse)
        _entry(session, pid, 5, "checkin", _at(7, 10), mood=5, craving=2)
        old = RiskFlag(
            patient_id=pid,
            source="detector",
            level="urgent",
            message="old",
            created_at=_at(2, 9, month=11),
        )
        acted = RiskFlag(
            patient_id=pid,
            category="self_harm",
            source="detector",
            level="urgent",
            message="I cut myself again",
            created_at=_at(5, 21),
            last_message_at=_at(5, 21),
            acknowledged_at=_at(6, 9),
            acknowledged_by="dr.rivera@harbour.example",
        )
        still_open = RiskFlag(
            patient_id=pid,
            category="overdose",
            source="detector",
            level="elevated",
            message="took too many last night",
            created_at=_at(6, 14),
            last_message_at=_at(6, 14),
        )
        request = RiskFlag(
            patient_id=pid,
            category="care_team_message",
            source="patient",
            level="request",
            message=REQUEST,
            created_at=_at(6, 15),
            last_message_at=_at(6, 15),
        )
        session.add_all([old, acted, still_open, request])
        session.flush()
        session.add(
            FlagAction(
                flag_id=acted.id,
                action="Called the patient",
                follow_up=date(2026, 12, 9),
                acknowledged_at=_at(6, 9),
                acknowledged_by="dr.rivera@harbour.example",
            )
        )
        session.add_all(
            [
                MeasureResult(
                    patient_id=pid,
                    measure="phq9",
                    answers=[1] * 9,
                    total=9,
                    band="mild",
                    completed_at=_at(1, 9, month=11),
                ),
                MeasureResult(
                    patient_id=pid,
                    measure="phq9",
                    answers=[2, 2, 1, 1, 1, 1, 1, 1, 0],
                    total=10,
                    band="moderate",
                    completed_at=_at(6, 16),
                ),
                MeasureSchedule(
                    patient_id=pid,
                    measure="gad7",
                    due_on=date(2026, 12, 6),
                    created_by="t@x.example",
                ),
                MeasureSchedule(
                    patient_id=pid,
                    measure="audit_c",
                    due_on=date(2027, 2, 1),
                    created_by="t@x.example",
                ),
            ]
        )
    menu = [("Reflect on a session", "/start_integration"), ("Quick check-in", "/start_checkin")]
    events = _Events(patient.sender_id)
    events.start(_at(1, 9, month=11))
    events.user(_at(1, 9, month=11), "something from long ago", "nlu_fallback")
    events.bot(_at(1, 9, month=11), "I'm not sure I understood that", "utter_default")
    events.start(_at(6, 12))
    events.bot(_at(6, 12), "What would you like to do?", "utter_greet", menu)
    events.user(_at(6, 12) + timedelta(minutes=1), "/start_integration", "start_integration")
    events.bot(
        _at(6, 12) + timedelta(minutes=1),
        "How are you feeling?",
        "utter_ask_mood",
        [("Low", "phq9.1.0"), ("Okay", "phq9.1.1")],
    )
    events.user(_at(6, 12) + timedelta(minutes=2), "phq9.1.1", "inform")
    events.user(_at(6, 13), "what's the best pizza in town", "nlu_fallback")
    events.bot(_at(6, 13), "I'm not sure I understood that", "utter_default")
    events.user(_at(6, 13) + timedelta(minutes=1), QUESTION, "psychoeducation")
    events.bot(
        _at(6, 13) + timedelta(minutes=1),
        "Ketamine can cause dizziness...",
        "utter_psychoeducation/side_effects",
        [("Tell me more", "/more_detail"), ("That's not what I asked", "/not_what_i_asked")],
    )
    events.user(_at(6, 13) + timedelta(minutes=2), "/not_what_i_asked", "not_what_i_asked")
    events.bot(_at(6, 13) + timedelta(minutes=2), REPHRASE)
    events.user(_at(6, 13) + timedelta(minutes=3), "tell me a joke", "out_of_scope")
    events.bot(
        _at(6, 13) + timedelta(minutes=3),
        "That's outside what I can help with",
        "utter_out_of_scope",
    )
    events.user(_at(6, 13) + timedelta(minutes=4), '/measure_answer{"value": 2}', "measure_answer")
    events.user(_at(6, 13) + timedelta(minutes=5), "/report_craving", "report_craving")
    events.save()


# ----------------------------------------------------------------------------- the period


def test_the_period_starts_at_the_latest_session_a_reflection_gave(migrated: str) -> None:
    london = _patient("london", "p-london")
    angeles = _patient("angeles", "p-angeles", "America/Los_Angeles")
    for patient in (london, angeles):
        with db.session_scope() as session:
            _entry(
                session,
                patient.id,
                1,
                "integration",
                _at(20, 9, month=11),
                session_date=date(2026, 11, 19),
            )
            _entry(session, patient.id, 2, "integration", _at(4, 9), session_date=SESSION)
            # A date still to come is no session that happened.
            _entry(
                session, patient.id, 3, "integration", _at(5, 9), session_date=date(2026, 12, 24)
            )

    with db.session_scope(write=False) as session:
        in_london = digests.digest_period(
            session, london.id, now=NOW, zone=records.views.zone_of("Europe/London")
        )
        in_angeles = digests.digest_period(
            session, angeles.id, now=NOW, zone=records.views.zone_of("America/Los_Angeles")
        )

    assert (in_london.session_date, in_london.days) == (SESSION, 4)
    assert in_london.start == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # midnight GMT
    assert in_london.end == NOW
    assert (in_angeles.session_date, in_angeles.days) == (SESSION, 4)
    assert in_angeles.start == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # midnight PST


def test_without_a_session_the_period_is_the_last_seven_days(migrated: str) -> None:
    patient = _patient("solo", "p-solo")

    with db.session_scope(write=False) as session:
        period = digests.digest_period(session, patient.id, now=NOW)

    assert period.session_date is None
    assert period.days == 7
    assert period.start == NOW - timedelta(days=7)
    assert records.load_record(patient, now=NOW).digest.period == period


def test_another_source_of_session_dates_is_one_more_function(migrated: str) -> None:
    patient = _patient("solo", "p-solo")
    with db.session_scope() as session:
        _entry(session, patient.id, 1, "integration", _at(4, 9), session_date=SESSION)

    def calendar(session: Session, patient_id: int) -> list[date]:
        return [date(2026, 12, 6)]

    with db.session_scope(write=False) as session:
        period = digests.digest_period(
            session, patient.id, now=NOW, sources=(*digests.SESSION_DATE_SOURCES, calendar)
        )

    assert (period.session_date, period.days) == (date(2026, 12, 6), 1)


# ----------------------------------------------------------------------------- the content


def test_the_digest_holds_the_week_since_the_session(migrated: str) -> None:
    patient = _patient("london", "p-london")
    _seed_week(patient)

    digest = records.load_record(patient, now=NOW).digest

    assert digest is not None
    assert digest.period.session_date == SESSION
    assert [(c.kind, c.count) for c in digest.entry_counts] == [
        ("integration", 1),
        ("trigger", 1),
        ("checkin", 2),
    ]
    assert digest.entries == 4  # the check-in of November is before the session
    assert (digest.mood.lowest, digest.mood.highest, digest.mood.latest) == (4, 6, 5)
    assert digest.mood.latest_at == _at(7, 10)
    assert (digest.craving.lowest, digest.craving.highest, digest.craving.latest) == (2, 8, 2)
    (slip,) = digest.slips
    assert (slip.day, slip.substances, slip.when_text) == (
        date(2026, 12, 5),
        ("alcohol",),
        "friday <i>late</i>",
    )
    # Risk flags of the period, newest first, with what was done; the request apart.
    assert [(f.level, f.category, f.is_open) for f in digest.flags] == [
        ("elevated", "overdose", True),
        ("urgent", "self_harm", False),
    ]
    done = digest.flags[1].current
    assert (done.action, done.follow_up) == ("Called the patient", date(2026, 12, 9))
    assert [r.message for r in digest.requests] == [REQUEST]
    assert [(m.short, m.total, m.band) for m in digest.measures_done] == [("PHQ-9", 10, "moderate")]
    assert [m.measure for m in digest.measures_due] == ["gad7"]
    # What the assistant could not answer, newest first, with why; nothing from before.
    assert [(q.text, q.reason) for q in digest.unanswered] == [
        ("tell me a joke", "out_of_scope"),
        (QUESTION, "wrong_answer"),
        ("what's the best pizza in town", "not_understood"),
    ]
    assert digest.unanswered[1].reason_label.startswith("answered the wrong question")


def test_an_empty_period_says_none_in_the_pdf(migrated: str) -> None:
    patient = _patient("solo", "p-solo")

    record = records.load_record(patient, now=NOW)
    html = exports.report_html(record, exported_by="t@solo.example", exported_at=NOW)

    digest = html[html.index('id="digest"') : html.index("</section>")]
    assert "Last 7 days" in digest
    for section in ("entries", "mood", "craving", "slips", "flags", "requests", "unanswered"):
        assert f'<dd id="digest-{section}">none</dd>' in digest, section


# ----------------------------------------------------------------------------- transcripts


def test_button_presses_read_as_their_titles(migrated: str) -> None:
    patient = _patient("london", "p-london")
    _seed_week(patient)

    record = records.load_record(patient, now=NOW)

    said = [
        (m.text, m.pressed)
        for c in reversed(record.conversations)
        for m in c.messages
        if m.speaker == "patient"
    ]
    assert ("Reflect on a session", True) in said  # the button just offered
    assert ("Okay", True) in said  # a measure's answer, offered with its payload
    assert ("That's not what I asked", True) in said
    assert ("I'm having a craving", True) in said  # not offered just before: the domain's title
    assert ("Measure answer", True) in said  # known nowhere: its intent in words
    assert (QUESTION, False) in said
    texts = " ".join(m.text for c in record.conversations for m in c.messages)
    assert "/start_integration" not in texts and "/measure_answer" not in texts
    assert "phq9.1.1" not in texts


# ----------------------------------------------------------------------------- time zones


def test_the_clinic_time_zone_is_set_checked_and_used(migrated: str) -> None:
    registry.create(
        "thames", "Thames", origins=["https://thames.example"], timezone="Europe/London"
    )
    assert registry.get_clinic("thames").timezone == "Europe/London"
    assert registry.get_clinic("thames").as_dict()["timezone"] == "Europe/London"
    registry.update("thames", timezone="America/Los_Angeles")
    assert registry.get_clinic("thames").timezone == "America/Los_Angeles"
    registry.create("plain", "Plain", origins=["https://plain.example"])
    assert registry.get_clinic("plain").timezone == "UTC"  # clinic_defaults.yml
    assert "timezone" not in registry.get_clinic("plain").as_dict()
    for wrong in ("Mars/Olympus_Mons", "", "../etc/passwd", "Europe/Londonx"):
        with pytest.raises(registry.ClinicError, match="is not a time zone"):
            registry.update("thames", timezone=wrong)
    assert registry.get_clinic("thames").timezone == "America/Los_Angeles"


def test_one_moment_reads_in_each_clinic_own_time(migrated: str) -> None:
    moment = datetime(2026, 7, 6, 13, 30, tzinfo=UTC)  # summer: BST and PDT

    london = records.formats_for("Europe/London")
    angeles = records.formats_for("America/Los_Angeles")

    assert london.time(moment) == "6 Jul 2026, 14:30 BST"
    assert angeles.time(moment) == "6 Jul 2026, 06:30 PDT"
    assert (london.zone_name, angeles.zone_name) == ("Europe/London", "America/Los_Angeles")
    assert records.formats_for("Not/AZone").time(moment) == "6 Jul 2026, 13:30 UTC"
