"""Patients' records as the dashboard reads them (bot.records), on real SQLite files and
PostgreSQL databases."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from dashboard_seed import (
    CRISIS_TEXT,
    MENU,
    NORTHSIDE_SECRET,
    OLD_CRISIS_TEXT,
    SeedInfo,
    seed,
)
from sqlalchemy import select

from bot import records
from bot.journal import entries as journal
from bot.records import Filters, Segment
from bot.storage import db
from bot.storage.models import Clinic, JournalEntry, Patient, PatientLink, RiskFlag
from bot.storage.rasa_events import EVENTS

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[..., str]
) -> Iterator[SeedInfo]:
    """One seeded database for the read-only tests of this module."""
    url = new_database(tmp_path_factory.mktemp("records") / "companion.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        patch.delenv("COMPANION_DEMO_CLINIC", raising=False)
        db.reset_engines()
        yield seed(url)
    db.reset_engines()


@pytest.fixture
def fresh(migrated: str) -> Clinic:
    """A migrated database without Rasa's table, with one clinic."""
    with db.session_scope() as session:
        clinic = Clinic(slug="solo", name="Solo Clinic", origins=[])
        session.add(clinic)
        session.flush()
        return clinic


def add_patient(clinic: Clinic, sender_id: str) -> records.PatientRef:
    """A patient the clinic invited (a real clinic lists no one else who never wrote)."""
    with db.session_scope() as session:
        patient = Patient(sender_id=sender_id, clinic_id=clinic.id)
        session.add(patient)
        session.add(
            PatientLink(
                id=uuid.uuid4().hex,
                patient=patient,
                kind="invite",
                expires_at=datetime.now(UTC) + timedelta(days=30),
            )
        )
    ref = records.find_patient(clinic.id, sender_id)
    assert ref is not None
    return ref


def main_record(info: SeedInfo, filters: Filters | None = None) -> records.PatientRecord:
    patient = records.find_patient(info.harbour.id, info.main)
    assert patient is not None
    return records.load_record(patient, filters)


# ----------------------------------------------------------------------------- list


@pytest.mark.slow
def test_patients_list(seeded: SeedInfo) -> None:
    summaries = records.list_patients(seeded.harbour.id)

    assert [s.sender_id for s in summaries] == [
        seeded.main,
        seeded.xss,
        seeded.steady,
        seeded.newcomer,
    ]
    main, xss, steady, newcomer = summaries
    assert (main.open_flags, xss.open_flags, steady.open_flags) == (1, 1, 0)
    assert (main.latest_mood, main.latest_craving, main.entries) == (2, 7, 12)
    assert main.last_activity == main.latest_mood_at
    assert main.last_activity.tzinfo is not None
    assert (steady.latest_mood, steady.latest_craving) == (8, 1)
    assert newcomer.last_activity is None
    assert newcomer.latest_mood is None and newcomer.entries == 0

    other = records.list_patients(seeded.northside.id)
    assert [s.sender_id for s in other] == [seeded.other]
    assert records.list_patients(999) == []


def test_patients_list_ranks_open_flags_above_recent_activity(fresh: Clinic) -> None:
    quiet = add_patient(fresh, "p-quiet")
    busy = add_patient(fresh, "p-busy")
    flag_id = journal.record_risk_flag("p-quiet", message="help", category=None, source="test")
    journal.save_entry("p-busy", "checkin", fields={"note": "fine"}, mood=7)

    assert [s.sender_id for s in records.list_patients(fresh.id)] == ["p-quiet", "p-busy"]

    records.acknowledge_flag(quiet, flag_id, by="t@solo.example")
    assert [s.sender_id for s in records.list_patients(fresh.id)] == ["p-busy", "p-quiet"]
    assert busy.sender_id == "p-busy"


# ----------------------------------------------------------------------------- scope


def test_find_patient_only_within_the_clinic(seeded: SeedInfo) -> None:
    assert records.find_patient(seeded.harbour.id, seeded.main) is not None
    assert records.find_patient(seeded.harbour.id, seeded.other) is None
    assert records.find_patient(seeded.northside.id, seeded.main) is None
    other = records.find_patient(seeded.northside.id, seeded.other)
    assert other is not None and other.clinic_slug == "northside"
    for strange in ("", "p-nobody", "x" * 256, "p-\x00", "' OR 1=1 --", seeded.main + " "):
        assert records.find_patient(seeded.harbour.id, strange) is None


# ----------------------------------------------------------------------------- entries


def test_entries_newest_first_with_every_field_labelled(seeded: SeedInfo) -> None:
    record = main_record(seeded)

    assert [e.number for e in record.entries] == list(range(12, 0, -1))
    assert record.total_entries == 12
    craving = next(e for e in record.entries if e.number == 3)
    assert craving.title == "Craving reflection + urge surfing"
    assert [f.key for f in craving.fields] == [
        "trigger_kind",
        "trigger_types",
        "trigger_types_text",
        "halt",
        "halt_text",
        "context",
        "coping",
        "urge_surfing",
    ]
    by_key = {f.key: f for f in craving.fields}
    assert by_key["trigger_kind"].text == "Craving"
    assert by_key["trigger_types"].text == "people, places"
    assert by_key["halt"].label == "HALT states"
    surfing = by_key["urge_surfing"]
    assert surfing.text == "" and surfing.label == "Urge surfing"
    assert [(p.label, p.text) for p in surfing.parts] == [
        ("Urge before", "8/10"),
        ("Where you felt it", "tight jaw and shoulders"),
        ("What you noticed", "it peaked after about 10 minutes and then eased"),
        ("Urge after", "4/10"),
    ]
    reflection = next(e for e in record.entries if e.number == 1)
    assert reflection.session_date == seeded.session_dates[0]
    assert (reflection.mood, reflection.craving) == (6, 4)
    assert [f.label for f in reflection.fields][:2] == ["What stood out", "Feelings and sensations"]
    assert record.last_session == seeded.session_dates[-1]
    assert [e.status for e in record.entries[:2]] == ["interrupted", "partial"]


def test_unknown_fields_and_odd_values_are_still_shown(fresh: Clinic) -> None:
    patient = add_patient(fresh, "p-odd")
    journal.save_entry(
        "p-odd",
        "trigger",
        fields={
            "zeta_note": "from a newer version",
            "halt": [],
            "done": True,
            "score": 3.5,
            "context": "",
        },
    )

    (entry,) = records.load_record(patient).entries

    shown = {f.key: (f.label, f.text) for f in entry.fields}
    assert shown["halt"] == ("HALT states", "none named")
    assert shown["zeta_note"] == ("Zeta note", "from a newer version")
    assert shown["done"] == ("Done", "yes")
    assert shown["score"] == ("Score", "3.5")
    assert shown["context"][1] == ""
    # Known fields first in question order, then the others as stored.
    assert [f.key for f in entry.fields] == ["halt", "context", "zeta_note", "done", "score"]


# ----------------------------------------------------------------------------- transcripts


def test_conversations_split_by_rasa_sessions(seeded: SeedInfo) -> None:
    record = main_record(seeded)

    assert record.transcripts_available
    assert record.total_conversations == 5
    assert [c.number for c in record.conversations] == [5, 4, 3, 2, 1]
    first = record.conversations[-1]
    assert first.started_at < first.ended_at
    assert [(m.speaker, m.text) for m in first.messages[:2]] == [
        ("patient", "hi"),
        ("assistant", first.messages[1].text),
    ]
    assert first.messages[1].text.startswith("Hi, I'm the integration companion.")
    assert first.messages[1].options == tuple(MENU)
    assert [m.speaker for m in first.messages] == ["patient", "assistant"] * 5
    times = [m.at for c in reversed(record.conversations) for m in c.messages]
    assert times == sorted(times)
    assert all(m.at.tzinfo is UTC for m in first.messages)
    # Nothing from another patient's conversation.
    texts = {m.text for c in record.conversations for m in c.messages}
    assert NORTHSIDE_SECRET not in texts


def test_flags_point_at_the_message_that_raised_them(seeded: SeedInfo) -> None:
    record = main_record(seeded)

    (open_flag,) = record.open_flags
    (acknowledged,) = record.acknowledged_flags
    assert open_flag.id == seeded.open_flag_id and open_flag.message == CRISIS_TEXT
    assert acknowledged.message == OLD_CRISIS_TEXT
    assert acknowledged.acknowledged_by == seeded.therapist.email
    messages = {m.anchor: m for c in record.conversations for m in c.messages}
    assert messages[open_flag.message_anchor].text == CRISIS_TEXT
    assert messages[open_flag.message_anchor].flagged
    assert messages[acknowledged.message_anchor].text == OLD_CRISIS_TEXT
    assert sum(m.flagged for m in messages.values()) == 2
    assert open_flag.category_label == "Suicide"


def _event(
    sender: str,
    type_name: str,
    timestamp: float | None,
    data: object,
    action_name: str | None = None,
) -> dict[str, object]:
    """One ``events`` row; ``data`` is stored as given when it is a string (broken JSON)."""
    return {
        "sender_id": sender,
        "type_name": type_name,
        "timestamp": timestamp,
        "action_name": action_name,
        "data": data if isinstance(data, str) else json.dumps(data),
    }


def test_odd_tracker_rows(fresh: Clinic) -> None:
    patient = add_patient(fresh, "p-odd")
    EVENTS.metadata.create_all(db.get_engine(), tables=[EVENTS])
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
    rows = [
        # a conversation started by the action alone (no session_started event)
        _event("p-odd", "action", start, {"event": "action"}, action_name="action_session_start"),
        _event("p-odd", "user", start + 1, {"event": "user", "text": "first"}),
        _event("p-odd", "user", start + 2, "{not json"),
        _event("p-odd", "user", start + 3, ["a", "list"]),
        _event(
            "p-odd",
            "bot",
            start + 4,
            {
                "event": "bot",
                "text": None,
                "data": {"buttons": [{"title": "Yes"}, {"payload": "/no"}]},
            },
        ),
        _event(
            "p-odd",
            "bot",
            None,
            {"event": "bot", "text": "timestamp from data", "timestamp": start + 5},
        ),
        _event("p-odd", "user", start + 6, {"event": "user", "text": ""}),
        # action_session_start then session_started: one new conversation, not two
        _event("p-odd", "action", start + 100, {}, action_name="action_session_start"),
        _event("p-odd", "session_started", start + 100.1, {"event": "session_started"}),
        _event("p-odd", "action", start + 100.2, {}, action_name="action_listen"),
        _event("p-odd", "user", start + 101, {"event": "user", "text": "second"}),
        _event("p-odd", "session_started", start + 200, {}),
        _event("someone-else", "user", start + 150, {"event": "user", "text": "not theirs"}),
    ]
    with db.get_engine().begin() as connection:
        connection.execute(EVENTS.insert(), rows)

    record = records.load_record(patient)

    assert [
        [(m.speaker, m.text, m.options) for m in c.messages] for c in reversed(record.conversations)
    ] == [
        [
            ("patient", "first", ()),
            ("assistant", "", ("Yes",)),
            ("assistant", "timestamp from data", ()),
        ],
        [("patient", "second", ())],
    ]
    assert record.conversations[-1].messages[2].at == datetime.fromtimestamp(start + 5, UTC)
    summary = records.list_patients(fresh.id)[0]
    assert summary.last_activity == datetime.fromtimestamp(start + 101, UTC)


def test_a_database_without_rasa_has_no_transcripts(fresh: Clinic) -> None:
    patient = add_patient(fresh, "p-norasa")
    journal.save_entry("p-norasa", "checkin", fields={"note": "hello"}, mood=5, craving=2)

    record = records.load_record(patient)

    assert not record.transcripts_available
    assert record.conversations == () and record.total_conversations == 0
    assert len(record.entries) == 1
    (summary,) = records.list_patients(fresh.id)
    assert summary.latest_mood == 5 and summary.last_activity is not None


# ----------------------------------------------------------------------------- filters


def test_search_is_case_insensitive_and_marks_matches(seeded: SeedInfo) -> None:
    record = main_record(seeded, Filters.parse(query="  KITCHEN "))

    assert [e.number for e in record.entries] == [2, 1]
    assert all(e.matches for e in record.entries)
    note = record.entries[0].fields[0]
    assert note.segments == (
        Segment("Slept 7 hours. Still thinking about the "),
        Segment("kitchen", match=True),
        Segment("."),
    )
    (conversation,) = record.conversations
    assert conversation.number == 1
    assert [m.text for m in conversation.messages if m.matches] == [
        "Seeing my dad's kitchen from when I was a kid, and feeling calm in it."
    ]
    assert len(conversation.messages) == 10  # the whole conversation, for context
    assert len(record.open_flags) == 1  # always shown
    assert len(record.chart.points) == 12  # the trend does not follow the search


def test_search_text_is_literal(seeded: SeedInfo) -> None:
    assert main_record(seeded, Filters.parse(query="(.*)")).entries == ()
    assert main_record(seeded, Filters.parse(query="x" * 500)).filters.query == "x" * 200
    assert records.FORMATS.kind_label("checkin") == "Check-ins"


def test_kind_and_date_filters(seeded: SeedInfo) -> None:
    record = main_record(seeded, Filters.parse(kinds=["trigger"]))
    assert [e.kind for e in record.entries] == ["trigger"] * 3
    assert record.conversations == ()

    record = main_record(seeded, Filters.parse(kinds=["conversation"]))
    assert record.entries == () and len(record.conversations) == 5

    day = (seeded.now - timedelta(days=8)).date()
    record = main_record(seeded, Filters.parse(start=day.isoformat(), end=day.isoformat()))
    assert [e.number for e in record.entries] == [10]
    assert [c.number for c in record.conversations] == [4]
    assert [p.mood for p in record.chart.points] == [5]
    assert (record.chart.start, record.chart.end) == (day, day)

    since = seeded.session_dates[1]
    record = main_record(seeded, Filters.parse(start=since.isoformat()))
    assert min(e.created_at.date() for e in record.entries) >= since
    assert record.chart.session_dates == seeded.session_dates[1:]


def test_filters_parse_what_it_can() -> None:
    assert not Filters.parse().active
    assert Filters.parse(kinds=list(records.FILTER_KINDS)).kinds == frozenset()
    mixed = Filters.parse(kinds=["checkin", "poems"], start="2026-13-01", end="soon")
    assert mixed.kinds == {"checkin"}
    assert mixed.start is None and mixed.end is None
    assert len(mixed.problems) == 3
    swapped = Filters.parse(start="2026-03-10", end="2026-03-01")
    assert (swapped.start, swapped.end) == (date(2026, 3, 1), date(2026, 3, 10))
    assert "swapped" in swapped.problems[0]
    assert Filters.parse(
        query="secret words", kinds=["trigger"], start="2026-03-01"
    ).audit_detail() == {
        "search": True,
        "kinds": ["trigger"],
        "from": "2026-03-01",
    }
    assert swapped.in_period(datetime(2026, 3, 10, 23, 59, tzinfo=UTC))
    assert not swapped.in_period(datetime(2026, 3, 11, 0, 0, tzinfo=UTC))


def test_chart_data(seeded: SeedInfo) -> None:
    chart = main_record(seeded).chart

    assert len(chart.points) == 12
    assert [p.at for p in chart.points] == sorted(p.at for p in chart.points)
    assert sum(p.mood is not None for p in chart.points) == 9
    assert chart.session_dates == seeded.session_dates
    assert chart.points[0].label == "Session reflection #1"
    assert (chart.start, chart.end) == (None, None)


def test_seeded_slip_without_details_is_on_the_chart_on_its_entry_day(seeded: SeedInfo) -> None:
    record = main_record(seeded)
    slip = next(e for e in record.entries if e.title == "Slip reflection")

    (lapse,) = record.chart.lapses

    assert lapse.number == slip.number
    assert lapse.day == slip.created_at.astimezone(UTC).date()
    assert lapse.dated_by_entry
    assert lapse.substances == () and lapse.substances_text == "substance not named"
    assert lapse.label == f"Slip reflection #{slip.number}"


def _slip(sender_id: str, **details: object) -> None:
    journal.save_entry(
        sender_id,
        "trigger",
        fields={"trigger_kind": "lapse", "context": "after the phone call", **details},
        craving=8,
    )


def test_a_slips_details_are_labelled_fields_in_question_order(fresh: Clinic) -> None:
    patient = add_patient(fresh, "p-slip-fields")
    journal.save_entry(
        "p-slip-fields",
        "trigger",
        fields={
            "context": "party",
            "lapse_when": "sat night",
            "substances": ["cocaine", "alcohol", "mdma"],
            "trigger_kind": "lapse",
            "lapse_date": "2026-03-07",
        },
    )

    (entry,) = records.load_record(patient).entries

    assert [(f.key, f.label, f.text) for f in entry.fields] == [
        ("trigger_kind", "Kind", "Slip"),
        ("substances", "Substances", "cocaine, alcohol, MDMA"),
        ("lapse_date", "Day of the slip", "Sat 7 Mar 2026"),
        ("lapse_when", "When, in their words", "sat night"),
        ("context", "What was happening", "party"),
    ]
    searched = records.load_record(patient, Filters.parse(query="MDMA")).entries
    assert [e.number for e in searched] == [entry.number]


def test_slips_on_the_chart(fresh: Clinic) -> None:
    patient = add_patient(fresh, "p-slips")
    _slip(
        "p-slips",
        substances=["alcohol", "<script>alert(1)</script>"],
        lapse_date="2020-03-07",
        lapse_when="sat <b>night</b>",
    )
    _slip("p-slips", substances=["opioids"], lapse_date="2020-03-02")
    _slip("p-slips", lapse_date="not a date")
    journal.save_entry(
        "p-slips", "trigger", fields={"trigger_kind": "craving", "lapse_date": "2020-03-05"}
    )
    journal.save_entry("p-slips", "checkin", fields={"note": "ok"}, mood=6)

    record = records.load_record(patient)
    chart = record.chart
    written = {e.number: e.created_at.astimezone(UTC).date() for e in record.entries}

    assert [(lapse.number, lapse.day) for lapse in chart.lapses] == [
        (2, date(2020, 3, 2)),
        (1, date(2020, 3, 7)),
        (3, written[3]),  # no day given: the day the entry was written
    ]
    opioids, alcohol, undated = chart.lapses
    assert alcohol.substances == ("alcohol",)  # only the bot's own names reach the chart
    assert alcohol.when_text == "sat <b>night</b>"  # kept verbatim; the page escapes it
    assert not alcohol.dated_by_entry and opioids.substances == ("opioids",)
    assert undated.dated_by_entry and undated.when_text is None
    assert not chart.is_empty

    march = records.load_record(patient, Filters.parse(start="2020-03-05", end="2020-03-31"))
    assert [lapse.number for lapse in march.chart.lapses] == [1]
    assert march.chart.points == ()  # the check-in's rating was written today


def test_a_chart_with_only_slips_is_not_empty() -> None:
    lapse = records.ChartLapse(day=date(2026, 3, 7), number=1, label="Slip reflection #1")
    assert not records.ChartData((), (), None, None, lapses=(lapse,)).is_empty
    assert records.ChartData((), (), None, None).is_empty


# ----------------------------------------------------------------------------- changes


def test_acknowledging_keeps_the_first_acknowledgement(fresh: Clinic) -> None:
    patient = add_patient(fresh, "p-ack")
    other = add_patient(fresh, "p-other")
    flag_id = journal.record_risk_flag("p-ack", message="help me", category=None, source="test")
    other_flag = journal.record_risk_flag("p-other", message="me too", category=None, source="test")

    first = records.acknowledge_flag(patient, flag_id, by="first@solo.example")
    again = records.acknowledge_flag(patient, flag_id, by="second@solo.example")

    assert first is not None and again is not None
    assert first.acknowledged_by == again.acknowledged_by == "first@solo.example"
    assert first.acknowledged_at == again.acknowledged_at
    assert not first.is_open
    assert records.acknowledge_flag(patient, other_flag, by="x@solo.example") is None
    assert records.flag_of(patient, other_flag) is None
    with db.session_scope(write=False) as session:
        assert session.get(RiskFlag, other_flag).acknowledged_at is None
    assert records.flag_of(other, other_flag).is_open


def test_export_data_is_the_command_line_export(seeded: SeedInfo) -> None:
    patient = records.find_patient(seeded.harbour.id, seeded.main)

    exported = records.export_data(patient)
    expected = journal.export_patient(seeded.main)

    exported.pop("exported_at")
    expected.pop("exported_at")
    assert exported == expected


def test_seed_wrote_rasa_events_as_rasa_does(seeded: SeedInfo) -> None:
    with db.session_scope(write=False) as session:
        rows = session.execute(
            select(EVENTS.c.type_name, EVENTS.c.action_name, EVENTS.c.data)
            .where(EVENTS.c.sender_id == seeded.main)
            .order_by(EVENTS.c.id)
            .limit(4)
        ).all()
        entries = session.scalar(
            select(JournalEntry.id).join(Patient).where(Patient.sender_id == seeded.main).limit(1)
        )
    assert [(t, a) for t, a, _ in rows] == [
        ("action", "action_session_start"),
        ("session_started", None),
        ("action", "action_listen"),
        ("user", None),
    ]
    user = json.loads(rows[3][2])
    assert user["event"] == "user" and user["text"] == "hi"
    assert user["parse_data"]["intent"]["name"] == "greet"
    assert entries is not None


def test_formatting() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert records.format_age(None, now) == "no activity yet"
    assert records.format_age(now - timedelta(seconds=30), now) == "just now"
    assert records.format_age(now - timedelta(minutes=5), now) == "5 min ago"
    assert records.format_age(now - timedelta(hours=30), now) == "30 h ago"
    assert records.format_age(now - timedelta(days=3, hours=1), now) == "3 days ago"
    assert records.format_time(now) == "10 Mar 2026, 12:00 UTC"
    assert records.format_day(date(2026, 3, 10)) == "Tue 10 Mar 2026"
    assert records.format_day(None) == "—"
