"""What the care team did about a risk flag (bot.records.flag_actions and the acknowledgement in
bot.records.queries): the action, note and follow-up stored, the note sealed at rest, undoing,
the follow-ups, the exports and the erasure of notes; on real SQLite files and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text, update

from bot import encryption, records
from bot.clinics import patients, registry
from bot.journal import entries as journal
from bot.privacy import erasure
from bot.records import exports
from bot.storage import db
from bot.storage.models import DEFAULT_FLAG_ACTIONS, Clinic, FlagAction, RiskFlag, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

NOTE = "Spoke for 20 minutes; she is staying with her sister tonight."
TODAY = date(2026, 12, 14)


def new_clinic(slug: str = "north") -> int:
    registry.create(slug, slug.title(), origins=[f"https://{slug}.example"])
    with db.session_scope(write=False) as session:
        return session.scalars(select(Clinic.id).where(Clinic.slug == slug)).one()


def invited(slug: str = "north", label: str | None = None) -> records.PatientRef:
    sender_id = patients.invite(slug, label=label).sender_id
    with db.session_scope(write=False) as session:
        clinic_id = session.scalars(select(Clinic.id).where(Clinic.slug == slug)).one()
    ref = records.find_patient(clinic_id, sender_id)
    assert ref is not None
    return ref


def flag(patient: records.PatientRef, category: str = "suicide") -> int:
    return journal.record_risk_flag(
        patient.sender_id, message="I can't go on", category=category, source="detector"
    )


def action_rows(flag_id: int) -> list[FlagAction]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(FlagAction).where(FlagAction.flag_id == flag_id).order_by(FlagAction.id)
            )
        )


def flag_row(flag_id: int) -> RiskFlag | None:
    with db.session_scope(write=False) as session:
        return session.get(RiskFlag, flag_id)


# ----------------------------------------------------------------------------- acknowledging


def test_an_acknowledgement_stores_the_action_note_and_follow_up_and_seals_the_note(
    clinic_db: str,
) -> None:
    new_clinic()
    patient = invited()
    flag_id = flag(patient)
    due = utcnow().date() + timedelta(days=3)

    view = records.acknowledge_flag(
        patient,
        flag_id,
        by="dr@north.example",
        action="Called the patient",
        note=NOTE,
        follow_up=due,
    )

    assert view is not None and not view.is_open
    assert view.current is not None
    assert (view.current.action, view.current.note, view.current.follow_up) == (
        "Called the patient",
        NOTE,
        due,
    )
    (row,) = action_rows(flag_id)
    assert (row.action, row.note, row.follow_up, row.acknowledged_by) == (
        "Called the patient",
        NOTE,
        due,
        "dr@north.example",
    )
    stored = flag_row(flag_id)
    assert (
        stored.acknowledged_at == row.acknowledged_at
        and stored.acknowledged_by == row.acknowledged_by
    )
    # At rest the note is sealed: the raw column holds neither the note nor a word of it.
    with db.get_engine().connect() as connection:
        raw = connection.execute(text("SELECT note FROM flag_actions")).scalar_one()
    assert encryption.is_sealed(raw)
    assert "sister" not in raw
    assert encryption.open_value(raw) == NOTE


def test_a_second_acknowledgement_records_nothing_more(clinic_db: str) -> None:
    new_clinic()
    patient = invited()
    flag_id = flag(patient)
    first = records.acknowledge_flag(
        patient, flag_id, by="a@north.example", action="Seen in session"
    )

    again = records.acknowledge_flag(
        patient, flag_id, by="b@north.example", action="No action needed", note="other tab"
    )

    assert [row.action for row in action_rows(flag_id)] == ["Seen in session"]
    assert again.current == first.current
    assert again.acknowledged_by == "a@north.example"


def test_another_patients_flag_is_neither_acknowledged_nor_undone(clinic_db: str) -> None:
    new_clinic()
    mine, theirs = invited(), invited()
    theirs_flag = flag(theirs)

    assert records.acknowledge_flag(mine, theirs_flag, by="x@north.example", action="A") is None
    assert records.undo_acknowledgement(mine, theirs_flag, by="x@north.example") is None
    assert records.complete_follow_up(mine, theirs_flag, by="x@north.example") is None
    assert flag_row(theirs_flag).acknowledged_at is None
    assert action_rows(theirs_flag) == []


# ----------------------------------------------------------------------------- undoing


def test_undo_opens_the_flag_again_and_keeps_the_history(clinic_db: str) -> None:
    new_clinic()
    patient = invited()
    flag_id = flag(patient)
    records.acknowledge_flag(
        patient, flag_id, by="a@north.example", action="Called the patient", note=NOTE
    )

    assert records.undo_acknowledgement(patient, flag_id, by="b@north.example") is True

    stored = flag_row(flag_id)
    assert (stored.acknowledged_at, stored.acknowledged_by) == (None, None)
    (row,) = action_rows(flag_id)
    assert row.undone_by == "b@north.example" and row.undone_at is not None
    assert row.note == NOTE  # the history keeps what was written
    assert records.undo_acknowledgement(patient, flag_id, by="b@north.example") is False
    (open_flag,) = records.load_record(patient).open_flags
    assert open_flag.id == flag_id and open_flag.current is None
    assert [a.action for a in open_flag.undone] == ["Called the patient"]

    # Acknowledged again: a second row; the first stays undone.
    records.acknowledge_flag(patient, flag_id, by="c@north.example", action="Seen in session")
    (seen,) = records.load_record(patient).acknowledged_flags
    assert seen.current.action == "Seen in session" and seen.acknowledged_by == "c@north.example"
    assert [a.action for a in seen.undone] == ["Called the patient"]
    assert [r.undone_at is None for r in action_rows(flag_id)] == [False, True]


def test_undoing_an_acknowledgement_made_before_actions_keeps_who_made_it(clinic_db: str) -> None:
    new_clinic()
    patient = invited()
    flag_id = flag(patient)
    at = utcnow() - timedelta(days=2)
    with db.session_scope() as session:
        session.execute(
            update(RiskFlag)
            .where(RiskFlag.id == flag_id)
            .values(acknowledged_at=at, acknowledged_by="old@north.example")
        )
    assert records.load_record(patient).acknowledged_flags[0].current is None

    assert records.undo_acknowledgement(patient, flag_id, by="new@north.example") is True

    (row,) = action_rows(flag_id)
    assert (row.action, row.acknowledged_by, row.acknowledged_at) == (None, "old@north.example", at)
    assert row.undone_by == "new@north.example"


# ----------------------------------------------------------------------------- follow-ups


def test_open_follow_ups_are_the_clinics_undone_and_done_ones_left_out(clinic_db: str) -> None:
    north_id, south_id = new_clinic("north"), new_clinic("south")
    today = utcnow().date()
    late, soon, no_date, undone, done = (invited(label=f"N.{n}") for n in range(5))
    southern = invited("south")
    flags = {
        name: flag(p)
        for name, p in zip(
            ("late", "soon", "no_date", "undone", "done", "south"),
            (late, soon, no_date, undone, done, southern),
            strict=True,
        )
    }
    ack = records.acknowledge_flag
    ack(late, flags["late"], by="t@n.example", action="A", follow_up=today + timedelta(days=1))
    ack(soon, flags["soon"], by="t@n.example", action="B", follow_up=today + timedelta(days=5))
    ack(no_date, flags["no_date"], by="t@n.example", action="C")
    ack(undone, flags["undone"], by="t@n.example", action="D", follow_up=today)
    ack(done, flags["done"], by="t@n.example", action="E", follow_up=today)
    ack(southern, flags["south"], by="t@s.example", action="F", follow_up=today)
    records.undo_acknowledgement(undone, flags["undone"], by="t@n.example")
    assert records.complete_follow_up(done, flags["done"], by="t@n.example") is True
    assert records.complete_follow_up(done, flags["done"], by="t@n.example") is False
    assert records.complete_follow_up(no_date, flags["no_date"], by="t@n.example") is False
    # A follow-up whose day has passed (written straight to the row: the form refuses one).
    with db.session_scope() as session:
        session.execute(
            update(FlagAction)
            .where(FlagAction.flag_id == flags["late"])
            .values(follow_up=today - timedelta(days=2))
        )

    listed = records.open_follow_ups(north_id)

    assert [(item.sender_id, item.action) for item in listed] == [
        (late.sender_id, "A"),
        (soon.sender_id, "B"),
    ]
    assert [item.overdue(today) for item in listed] == [True, False]
    assert listed[0].name == "N.0" and listed[0].flag_id == flags["late"]
    assert [item.action for item in records.open_follow_ups(south_id)] == ["F"]
    assert records.open_follow_ups(north_id, therapist_id=12345) == []
    assert len(records.open_follow_ups(north_id, unassigned=True)) == 2


# ----------------------------------------------------------------------------- checking


def test_the_form_is_checked_against_the_clinics_own_actions(clinic_db: str) -> None:
    clinic_id = new_clinic()
    check = records.check_acknowledgement

    assert records.clinic_actions(clinic_id) == DEFAULT_FLAG_ACTIONS
    assert check(clinic_id, action="Seen in session", note="  ", follow_up="", today=TODAY) == (
        "Seen in session",
        None,
        None,
    )
    assert check(
        clinic_id, action="Called the patient", note=" ok ", follow_up="2026-12-14", today=TODAY
    ) == ("Called the patient", "ok", TODAY)
    for bad, problem in [
        ({"action": "Sent flowers"}, "clinic's list"),
        ({"action": ""}, "clinic's list"),
        ({"note": "x" * 2001}, "at most 2000"),
        ({"follow_up": "tomorrow"}, "YYYY-MM-DD"),
        ({"follow_up": "2026-12-13"}, "in the past"),
        ({"follow_up": "2028-01-01"}, "within a year"),
    ]:
        given = {"action": "Seen in session", "note": "", "follow_up": "", **bad}
        with pytest.raises(records.ActionError, match=problem):
            check(clinic_id, today=TODAY, **given)

    registry.update("north", flag_actions=["Rang the GP", "Home visit"])

    assert records.clinic_actions(clinic_id) == ("Rang the GP", "Home visit")
    assert check(clinic_id, action="Home visit", note="", follow_up="", today=TODAY)[0] == (
        "Home visit"
    )
    with pytest.raises(records.ActionError):
        check(clinic_id, action="Seen in session", note="", follow_up="", today=TODAY)


@pytest.mark.parametrize(
    ("actions", "problem"),
    [
        ([], "at least one"),
        (["Called", " "], "not a flag action"),
        (["Called", "called"], "given twice"),
        (["x" * 81], "not a flag action"),
        (["bad\x00byte"], "not a flag action"),
        ([f"Action {n}" for n in range(21)], "At most 20"),
    ],
)
def test_unusable_action_lists_are_refused(
    clinic_db: str, actions: list[str], problem: str
) -> None:
    new_clinic()
    with pytest.raises(registry.ClinicError, match=problem):
        registry.update("north", flag_actions=actions)
    assert registry.get_clinic("north").flag_actions == list(DEFAULT_FLAG_ACTIONS)


# ----------------------------------------------------------------------------- exports


def test_exports_carry_the_action_note_and_follow_up(clinic_db: str) -> None:
    new_clinic()
    patient = invited()
    first, second = flag(patient, "suicide"), flag(patient, "overdose")
    due = utcnow().date() + timedelta(days=7)
    records.acknowledge_flag(patient, first, by="a@n.example", action="Called the patient")
    records.undo_acknowledgement(patient, first, by="b@n.example")
    records.acknowledge_flag(
        patient, first, by="c@n.example", action="Safety plan reviewed", note=NOTE, follow_up=due
    )

    export = records.export_data(patient)

    by_id = {item["id"]: item for item in export["risk_flags"]}
    assert by_id[first]["action"] == "Safety plan reviewed"
    assert by_id[first]["action_note"] == NOTE
    assert by_id[first]["follow_up"] == due.isoformat()
    assert [(a["action"], a["undone_by"]) for a in by_id[first]["acknowledgements"]] == [
        ("Called the patient", "b@n.example"),
        ("Safety plan reviewed", None),
    ]
    assert (by_id[second]["action"], by_id[second]["acknowledgements"]) == (None, [])
    rows = list(csv.reader(io.StringIO(exports.flags_csv_bytes(export).decode("utf-8-sig"))))
    header = rows[0]
    # The columns that were there keep their places; the new ones come after them.
    assert header[:11] == [
        "id",
        "created_at",
        "level",
        "category",
        "source",
        "message",
        "message_count",
        "last_message_at",
        "latest_messages",
        "acknowledged_at",
        "acknowledged_by",
    ]
    assert header[11:] == ["action", "action_note", "follow_up"]
    cells = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert cells[str(first)]["action_note"] == NOTE
    assert cells[str(first)]["follow_up"] == due.isoformat()
    assert cells[str(second)]["action"] == ""

    html = exports.report_html(
        records.load_record(patient), exported_by="t@n.example", exported_at=utcnow()
    )
    assert "Safety plan reviewed" in html and "staying with her sister" in html
    assert "undone by b@n.example" in html


def test_a_formula_in_a_note_is_defused_in_the_csv(clinic_db: str) -> None:
    new_clinic()
    patient = invited()
    flag_id = flag(patient)
    records.acknowledge_flag(patient, flag_id, by="a@n.example", action="A", note="=1+1")

    data = exports.flags_csv_bytes(records.export_data(patient)).decode("utf-8-sig")

    assert "'=1+1" in data


# ----------------------------------------------------------------------------- erasure


def test_erasure_takes_the_notes_with_the_flags_text(clinic_db: str) -> None:
    """A deleted flag's actions go with it; a flag kept until its notice is delivered (never
    notified, acknowledged then undone) keeps what was done, not the note."""
    new_clinic()
    patient = invited()
    gone, kept = flag(patient, "suicide"), flag(patient, "overdose")
    records.acknowledge_flag(patient, gone, by="a@n.example", action="A", note="note one")
    records.acknowledge_flag(patient, kept, by="a@n.example", action="B", note="note two")
    records.undo_acknowledgement(patient, kept, by="a@n.example")  # open again, never notified
    with db.session_scope() as session:
        session.execute(update(RiskFlag).where(RiskFlag.id == gone).values(notified_at=utcnow()))

    receipt = erasure.erase_patient(patient.sender_id, "cli:test")

    assert receipt.ok
    assert receipt.stores["risk_flags"] == {
        "erased": 1,
        "kept_until_notified": 1,
        "action_notes": 2,
    }
    assert action_rows(gone) == []
    (row,) = action_rows(kept)
    assert (row.action, row.note) == ("B", None)
    with db.get_engine().connect() as connection:
        notes = connection.execute(text("SELECT note FROM flag_actions")).scalars().all()
    assert notes == [None]
