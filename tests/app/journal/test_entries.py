"""The journal service against a real database: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.journal import entries as journal
from bot.storage import db
from bot.storage.models import Clinic, JournalEntry, Patient

pytestmark = pytest.mark.databases("sqlite", "postgresql")

EMOJI = "Felt 🌊🙂‍↕️ then calm 🕊️ — “quotes” and ‘apostrophes’"
CHINESE = "我感到平静，也有点害怕。明天我想去散步。"
LONG = ("I keep thinking about the light. " * 700)[:20_000]
NEWLINES = "  first line\nsecond line\r\nthird\ttabbed\n\n  trailing spaces  "

INTEGRATION_FIELDS: dict[str, Any] = {
    "stood_out": EMOJI,
    "feelings": CHINESE,
    "insight": LONG,
    "intention": NEWLINES,
    "small_step": "=SUM(A1:A3) is not a formula here",
}


@pytest.fixture(autouse=True)
def _fresh_database(database_url: str) -> None:
    """Every test starts on an empty database; the service must migrate it by itself."""


def _patients() -> list[Patient]:
    with db.session_scope(write=False) as session:
        return list(session.scalars(select(Patient).order_by(Patient.id)))


def test_save_and_read_back_verbatim() -> None:
    saved = journal.save_entry(
        "alice",
        "integration",
        fields=INTEGRATION_FIELDS,
        mood=6,
        craving=2,
        session_date=date(2026, 11, 20),
    )

    assert saved.number == 1
    assert saved.fields == INTEGRATION_FIELDS
    loaded = journal.get_entry("alice", 1)
    assert loaded == saved
    assert loaded is not None
    assert loaded.fields["insight"] == LONG
    assert len(loaded.fields["insight"]) == 20_000
    assert loaded.fields["intention"] == NEWLINES
    assert loaded.fields["stood_out"] == EMOJI
    assert loaded.fields["feelings"] == CHINESE
    assert (loaded.kind, loaded.status) == ("integration", "complete")
    assert (loaded.mood, loaded.craving) == (6, 2)
    assert loaded.session_date == date(2026, 11, 20)


def test_created_at_is_timezone_aware_utc() -> None:
    before = datetime.now(UTC)
    saved = journal.save_entry("alice", "checkin", fields={"note": "ok"}, mood=5)
    after = datetime.now(UTC)

    loaded = journal.get_entry("alice", 1)
    assert loaded is not None
    for value in (saved.created_at, loaded.created_at):
        assert value.tzinfo is UTC
        assert before - timedelta(seconds=1) <= value <= after + timedelta(seconds=1)
    assert loaded.created_at == saved.created_at


def test_numbers_count_per_patient() -> None:
    numbers = [
        journal.save_entry("alice", "checkin", fields={"note": "a1"}).number,
        journal.save_entry("alice", "checkin", fields={"note": "a2"}).number,
        journal.save_entry("bob", "checkin", fields={"note": "b1"}).number,
        journal.save_entry("alice", "trigger", fields={"context": "a3"}).number,
        journal.save_entry("bob", "checkin", fields={"note": "b2"}).number,
    ]
    assert numbers == [1, 2, 1, 3, 2]
    entry = journal.get_entry("bob", 2)
    assert entry is not None
    assert entry.fields == {"note": "b2"}


def test_another_patients_entries_are_invisible() -> None:
    journal.save_entry("alice", "checkin", fields={"note": "alice 1"})
    journal.save_entry("alice", "checkin", fields={"note": "alice 2"})
    journal.save_entry("bob", "checkin", fields={"note": "bob 1"})

    assert journal.get_entry("bob", 2) is None
    assert [e.fields["note"] for e in journal.recent_entries("bob")] == ["bob 1"]
    assert journal.update_entry_fields("bob", 2, {"note": "overwritten"}) is None
    alice_2 = journal.get_entry("alice", 2)
    assert alice_2 is not None
    assert alice_2.fields == {"note": "alice 2"}


def test_recent_entries_newest_first_with_limit() -> None:
    for index in range(1, 13):
        journal.save_entry("alice", "checkin", fields={"note": f"n{index}"})

    assert [e.number for e in journal.recent_entries("alice")] == list(range(12, 2, -1))
    assert [e.number for e in journal.recent_entries("alice", limit=3)] == [12, 11, 10]
    assert journal.recent_entries("alice", limit=0) == []


def test_unknown_patient_reads_return_nothing_and_create_nothing() -> None:
    assert journal.recent_entries("nobody") == []
    assert journal.get_entry("nobody", 1) is None
    assert journal.update_entry_fields("nobody", 1, {"x": "y"}) is None
    assert journal.export_patient("nobody") is None
    assert _patients() == []


def test_first_write_creates_demo_clinic_and_patient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPANION_DEMO_CLINIC", "harbour-demo")
    journal.save_entry("alice", "checkin", fields={})
    journal.record_risk_flag("bob", message="m", category=None, source="detector")
    journal.save_entry("alice", "checkin", fields={})

    with db.session_scope(write=False) as session:
        clinics = session.execute(select(Clinic.slug, Clinic.name)).all()
        patients = session.execute(
            select(Patient.sender_id, Clinic.slug).join(Clinic).order_by(Patient.id)
        ).all()
    assert clinics == [("harbour-demo", "Demo clinic")]
    assert patients == [("alice", "harbour-demo"), ("bob", "harbour-demo")]


@pytest.mark.slow
def test_writes_update_last_seen_at() -> None:
    journal.save_entry("alice", "checkin", fields={})
    (first,) = _patients()
    journal.update_entry_fields("alice", 1, {"note": "later"})
    (second,) = _patients()
    journal.record_risk_flag("alice", message="m", category="self_harm", source="nlu")
    (third,) = _patients()

    assert first.created_at == first.last_seen_at
    assert first.last_seen_at < second.last_seen_at < third.last_seen_at
    assert third.created_at == first.created_at
    assert third.last_seen_at.tzinfo is UTC


def test_update_entry_fields_merges_urge_surfing() -> None:
    trigger_fields = {
        "trigger_kind": "craving",
        "trigger_types": ["people", "feelings"],
        "trigger_types_text": "my brother, and feeling low",
        "halt": ["lonely", "tired"],
        "context": "after the call",
    }
    journal.save_entry("alice", "trigger", fields=trigger_fields, craving=8)
    surf = {"before": 8, "location": "chest 💓", "change": "it moved", "after": 4}

    updated = journal.update_entry_fields("alice", 1, {"urge_surfing": surf})

    assert updated is not None
    assert updated.fields == trigger_fields | {"urge_surfing": surf}
    assert journal.get_entry("alice", 1) == updated
    assert updated.craving == 8


@pytest.mark.parametrize("status", journal.STATUSES)
def test_every_status_is_stored(status: str) -> None:
    saved = journal.save_entry("alice", "integration", fields={}, status=status)
    loaded = journal.get_entry("alice", saved.number)
    assert loaded is not None
    assert loaded.status == status


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "diary"}, "kind"),
        ({"status": "done"}, "status"),
        ({"mood": -1}, "mood"),
        ({"mood": 11}, "mood"),
        ({"craving": -1}, "craving"),
        ({"craving": 11}, "craving"),
    ],
)
def test_invalid_values_are_rejected_and_nothing_is_stored(
    kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"kind": "checkin", "fields": {"note": "x"}} | kwargs
    kind = arguments.pop("kind")
    with pytest.raises(ValueError, match=message):
        journal.save_entry("alice", kind, **arguments)
    assert journal.recent_entries("alice") == []


def test_boundary_ratings_are_accepted() -> None:
    low = journal.save_entry("alice", "checkin", fields={}, mood=0, craving=10)
    high = journal.save_entry("alice", "checkin", fields={}, mood=10, craving=0)
    assert (low.mood, low.craving, high.mood, high.craving) == (0, 10, 10, 0)


@pytest.mark.parametrize("value", [True, 5.0, "5"])
def test_ratings_must_be_integers(value: object) -> None:
    with pytest.raises(TypeError):
        journal.save_entry("alice", "checkin", fields={}, mood=value)  # type: ignore[arg-type]


def test_session_date_must_be_a_date() -> None:
    with pytest.raises(TypeError):
        journal.save_entry(
            "alice",
            "integration",
            fields={},
            session_date=datetime(2026, 1, 1, tzinfo=UTC),
        )


def test_risk_flags_are_recorded_and_exported() -> None:
    first = journal.record_risk_flag(
        "alice",
        message="I can't go on\n😔",
        category="suicidal_ideation",
        source="detector",
    )
    second = journal.record_risk_flag("alice", message="x", category=None, source="nlu")
    assert second > first

    export = journal.export_patient("alice")
    assert export is not None
    flags = export["risk_flags"]
    assert [flag["id"] for flag in flags] == [first, second]
    assert flags[0]["message"] == "I can't go on\n😔"
    assert flags[0]["category"] == "suicidal_ideation"
    assert flags[1]["category"] is None
    assert flags[0]["acknowledged_at"] is None
    assert flags[0]["acknowledged_by"] is None
    assert datetime.fromisoformat(flags[0]["created_at"]).tzinfo == UTC


def test_risk_flag_with_nul_character_is_still_recorded() -> None:
    journal.record_risk_flag("alice", message="help\x00me", category=None, source="nlu")
    export = journal.export_patient("alice")
    assert export is not None
    assert export["risk_flags"][0]["message"] == "help\ufffdme"


@pytest.mark.parametrize("sender_id", ["", "x" * 256, "a\x00b"])
def test_unusable_sender_ids_are_rejected(sender_id: str) -> None:
    with pytest.raises(ValueError, match="sender_id"):
        journal.save_entry(sender_id, "checkin", fields={})


def test_export_round_trip() -> None:
    journal.save_entry(
        "alice",
        "integration",
        fields=INTEGRATION_FIELDS,
        mood=7,
        craving=1,
        session_date=date(2026, 11, 20),
    )
    journal.save_entry("alice", "checkin", fields={"note": "ok"}, status="partial")
    journal.save_entry("bob", "checkin", fields={"note": "bob's"})

    export = journal.export_patient("alice")

    assert export is not None
    assert export["patient"] == "alice"
    assert export["clinic"] == "demo"
    assert datetime.fromisoformat(export["exported_at"]).tzinfo == UTC
    entries = export["entries"]
    assert [entry["number"] for entry in entries] == [1, 2]
    first = entries[0]
    assert first["fields"] == INTEGRATION_FIELDS
    assert first["kind"] == "integration"
    assert first["status"] == "complete"
    assert first["session_date"] == "2026-11-20"
    assert (first["mood"], first["craving"]) == (7, 1)
    assert datetime.fromisoformat(first["created_at"]).tzinfo == UTC
    assert entries[1]["status"] == "partial"
    assert entries[1]["session_date"] is None
    assert set(first) == {
        "number",
        "kind",
        "status",
        "created_at",
        "session_date",
        "mood",
        "craving",
        "fields",
    }
    assert export["risk_flags"] == []


@pytest.mark.slow
def test_concurrent_writers_get_distinct_consecutive_numbers() -> None:
    """Several threads (each on its own connection) saving for one person at once."""
    journal.save_entry("alice", "checkin", fields={"note": "warm-up"})
    threads_count, per_thread = 6, 5
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def write(thread: int) -> None:
        try:
            start.wait()
            for index in range(per_thread):
                journal.save_entry("alice", "checkin", fields={"note": f"{thread}-{index}"})
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with db.session_scope(write=False) as session:
        numbers = sorted(session.scalars(select(JournalEntry.number)))
        count = session.scalar(select(func.count()).select_from(Patient))
    assert numbers == list(range(1, threads_count * per_thread + 2))
    assert count == 1


def test_concurrent_first_writes_create_one_patient() -> None:
    threads_count = 6
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def write() -> None:
        try:
            start.wait()
            journal.save_entry("newcomer", "checkin", fields={})
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [patient.sender_id for patient in _patients()] == ["newcomer"]
    assert sorted(e.number for e in journal.recent_entries("newcomer")) == list(
        range(1, threads_count + 1)
    )
