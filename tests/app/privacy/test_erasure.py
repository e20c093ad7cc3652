"""Erasing a patient (bot.privacy.erasure) on real SQLite files and PostgreSQL databases: every
store, failures, and (SQLite) the bytes left in the file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from data_rights_support import Person, file_bytes, make_person, raw_values
from sqlalchemy import select, text, update

from bot import records
from bot.clinics import audit, patients, registry
from bot.journal import entries as journal
from bot.journal import measure_records
from bot.privacy import erasure, my_data
from bot.records import exports
from bot.storage import db
from bot.storage.models import AuditEvent, ErasureRequest, Patient, PatientLink, RiskFlag

pytestmark = pytest.mark.databases("sqlite", "postgresql")

#: A trigger that refuses to delete risk flags with an integrity error, and its removal.
_LEGAL_HOLD = {
    "sqlite": (
        [
            "CREATE TRIGGER keep_flags BEFORE DELETE ON risk_flags "
            "BEGIN SELECT RAISE(ABORT, 'risk flags are on legal hold'); END"
        ],
        "DROP TRIGGER keep_flags",
    ),
    "postgresql": (
        [
            "CREATE FUNCTION keep_flags() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'risk flags are on legal hold' "
            "USING ERRCODE = 'integrity_constraint_violation'; END $$",
            "CREATE TRIGGER keep_flags BEFORE DELETE ON risk_flags "
            "FOR EACH ROW EXECUTE FUNCTION keep_flags()",
        ],
        "DROP TRIGGER keep_flags ON risk_flags",
    ),
}


@pytest.fixture
def clinic(clinic_db: str) -> registry.ClinicView:
    return registry.create("harbour", "Harbour Clinic", origins=["https://harbour.example"])


@pytest.fixture
def target(clinic: registry.ClinicView) -> Person:
    return make_person(clinic.slug, "Target-7f3a")


@pytest.fixture
def bystander(clinic: registry.ClinicView) -> Person:
    return make_person(clinic.slug, "Bystander-91c2")


def audit_rows(action: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def everything_shown_about(person: Person) -> str:
    """Every way the application gives a patient's data out, as one text."""
    ref = records.find_patient(clinic_id_of(person), person.sender_id)
    assert ref is not None
    record = records.load_record(ref)
    export = records.export_data(ref)
    parts = [
        repr(journal.recent_entries(person.sender_id, limit=100)),
        repr(record),
        exports.json_bytes(export).decode(),
        exports.csv_bytes(export).decode("utf-8-sig"),
        exports.report_html(record, exported_by="t@x.example", exported_at=datetime.now(UTC)),
        repr(records.read_conversations(person.sender_id)),
        repr(my_data.export_document(person.sender_id)),
        repr(records.list_patients(clinic_id_of(person))),
    ]
    return "\n".join(parts)


def notice_delivered(person: Person) -> None:
    """The care team was told of the person's flags (their notice went out), so an erasure
    keeps none of them (``tests/app/journal/test_risk_levels.py`` covers the flags it keeps)."""
    with db.session_scope() as session:
        session.execute(
            update(RiskFlag)
            .where(
                RiskFlag.patient_id
                == select(Patient.id).where(Patient.sender_id == person.sender_id).scalar_subquery()
            )
            .values(notified_at=datetime.now(UTC))
        )


def clinic_id_of(person: Person) -> int:
    with db.session_scope(write=False) as session:
        return session.scalars(
            select(Patient.clinic_id).where(Patient.sender_id == person.sender_id)
        ).one()


def test_erasure_removes_every_store_and_keeps_the_ids(target: Person, bystander: Person) -> None:
    notice_delivered(target)
    before = everything_shown_about(target)
    assert all(text in before for text in target.texts)  # the check below can fail
    with db.get_engine().connect() as connection:
        events = connection.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": target.sender_id}
        ).scalar_one()
    assert events > 6

    receipt = erasure.erase_patient(target.sender_id, "admin@harbour.example")

    assert receipt.stores == {
        "journal": {"erased": 2},
        "risk_flags": {"erased": 1},
        "measures": {"erased": 0},
        "sessions": {"erased": 0, "reminder_subscriptions": 0, "follow_ups": 0},
        "events": {"erased": events},
        "erasure_requests": {"erased": 0},
    }
    assert receipt.ok and receipt.failed == ()
    assert receipt.erased["journal"] == 2

    after = everything_shown_about(target)
    assert not any(text in after for text in target.texts), after
    assert raw_values(target.sender_id) == []
    # The bystander in the same clinic keeps everything.
    assert all(text in everything_shown_about(bystander) for text in bystander.texts)

    # The patient row and the link stay (ids only), marked with the erasure's time.
    with db.session_scope(write=False) as session:
        patient = session.scalars(
            select(Patient).where(Patient.sender_id == target.sender_id)
        ).one()
        assert patient.erased_at == receipt.at
        link = session.get(PatientLink, target.link_id)
        assert link is not None and link.revoked_at is None

    (row,) = audit_rows("erase_patient")
    assert (row.actor, row.target, row.outcome) == (
        "admin@harbour.example",
        target.sender_id,
        "ok",
    )
    assert row.detail == {"stores": receipt.stores}
    assert row.clinic_id == clinic_id_of(target)


def test_a_failing_store_does_not_stop_the_others(
    target: Person, clinic, database_backend: str
) -> None:
    notice_delivered(target)
    registry.update(clinic.slug, erasure_review=True)
    outcome = erasure.request_erasure(target.sender_id)
    assert outcome.kind == "requested" and outcome.request is not None
    hold, release = _LEGAL_HOLD[database_backend]
    with db.get_engine().begin() as connection:
        for statement in hold:
            connection.exec_driver_sql(statement)

    receipt = erasure.erase_patient(
        target.sender_id, "admin@harbour.example", request_id=outcome.request.id
    )

    assert receipt.stores["risk_flags"] == {"failed": "IntegrityError"}
    assert receipt.stores["journal"] == {"erased": 2}
    assert receipt.stores["events"]["erased"] > 0
    assert receipt.failed == ("risk_flags",) and not receipt.ok
    assert journal.recent_entries(target.sender_id) == []
    assert records.read_conversations(target.sender_id) == []
    with db.session_scope(write=False) as session:
        assert len(session.scalars(select(RiskFlag)).all()) == 1
        # The erasure was not complete: the request stays open for another try.
        assert session.get(ErasureRequest, outcome.request.id).status == "open"
    (row,) = audit_rows("erase_patient")
    assert row.outcome == "failed"
    assert row.detail["stores"]["risk_flags"] == {"failed": "IntegrityError"}
    assert row.detail["request_id"] == outcome.request.id

    with db.get_engine().begin() as connection:
        connection.exec_driver_sql(release)
    again = erasure.erase_patient(
        target.sender_id, "admin@harbour.example", request_id=outcome.request.id
    )
    assert again.ok
    assert again.stores["risk_flags"] == {"erased": 1}
    assert again.stores["erasure_requests"] == {"erased": 1}
    with db.session_scope(write=False) as session:
        closed = session.get(ErasureRequest, outcome.request.id)
        assert (closed.status, closed.resolved_by) == ("erased", "admin@harbour.example")
    assert [row.outcome for row in audit_rows("erase_patient")] == ["failed", "ok"]


@pytest.mark.databases("sqlite")  # PostgreSQL keeps deleted rows until VACUUM (bot.privacy.erasure)
def test_erased_text_is_not_left_in_the_database_file(
    target: Person, bystander: Person, database_path: Path
) -> None:
    sealed = raw_values(target.sender_id)
    assert len(sealed) >= 8 and all(value.startswith("enc1:") for value in sealed)
    ciphertexts = [value.split(":", 2)[2].encode() for value in sealed]
    on_disk = file_bytes(database_path)
    assert all(ciphertext in on_disk for ciphertext in ciphertexts)  # the test can fail
    # Patient text is sealed: the plaintext was never written.
    assert not any(text.encode() in on_disk for text in target.texts)

    erasure.erase_patient(target.sender_id, "cli:operator")

    on_disk = file_bytes(database_path)
    left = [ciphertext[:24] for ciphertext in ciphertexts if ciphertext in on_disk]
    assert left == [], "erased ciphertext still in the file"
    # Nor any sizeable piece of it (a page half overwritten would leave one).
    assert not any(ciphertext[40:80] in on_disk for ciphertext in ciphertexts)
    assert not any(text.encode() in on_disk for text in target.texts)
    bystander_values = raw_values(bystander.sender_id)
    assert all(value.split(":", 2)[2].encode() in on_disk for value in bystander_values)


def test_a_database_without_the_tracker_table(clinic: registry.ClinicView) -> None:
    invite = patients.invite(clinic.slug)
    journal.save_entry(invite.sender_id, "checkin", fields={"note": "only a journal here"})
    measure_records.save_result(invite.sender_id, "gad7", [1, 0, 0, 0, 0, 0, 0])
    receipt = erasure.erase_patient(invite.sender_id, "patient")
    assert receipt.stores == {
        "journal": {"erased": 1},
        "risk_flags": {"erased": 0},
        "measures": {"erased": 1},
        "sessions": {"erased": 0, "reminder_subscriptions": 0, "follow_ups": 0},
        "events": {"erased": 0},
        "erasure_requests": {"erased": 0},
    }
    assert measure_records.results_of(invite.sender_id) == []


def test_unknown_patients_and_foreign_requests(target: Person, bystander: Person, clinic) -> None:
    with pytest.raises(erasure.UnknownPatient):
        erasure.erase_patient("p-nobody", "cli:operator")
    assert erasure.request_erasure("p-nobody").kind == "unknown"
    registry.update(clinic.slug, erasure_review=True)
    theirs = erasure.request_erasure(bystander.sender_id).request
    assert theirs is not None
    with pytest.raises(ValueError, match="not this patient"):
        erasure.erase_patient(target.sender_id, "cli:operator", request_id=theirs.id)
    assert all(text in everything_shown_about(target) for text in target.texts)
    assert audit_rows("erase_patient") == []


def test_request_erasure_erases_at_once_without_review(target: Person) -> None:
    outcome = erasure.request_erasure(target.sender_id)
    assert outcome.kind == "erased" and outcome.receipt is not None
    assert outcome.receipt.actor == "patient" and outcome.receipt.ok
    assert journal.recent_entries(target.sender_id) == []
    (row,) = audit_rows("erase_patient")
    assert row.actor == "patient"
    assert audit_rows("erasure_requested") == []


def test_request_erasure_files_one_request_under_review(
    target: Person, clinic: registry.ClinicView
) -> None:
    registry.update(clinic.slug, erasure_review=True)
    first = erasure.request_erasure(target.sender_id)
    second = erasure.request_erasure(target.sender_id)
    assert first.kind == "requested" and first.receipt is None
    assert second.kind == "already_requested" and second.request == first.request
    assert first.request is not None and first.request.requested_by == "patient"
    # Nothing was erased: the clinic decides.
    assert all(text in everything_shown_about(target) for text in target.texts)
    (row,) = audit_rows("erasure_requested")
    assert (row.actor, row.target, row.detail) == (
        "patient",
        target.sender_id,
        {"request_id": first.request.id},
    )
    open_requests, resolved = erasure.list_requests(clinic_id_of(target))
    assert [r.id for r in open_requests] == [first.request.id] and resolved == []
    assert erasure.open_request_for(session_patient_id(target.sender_id)) == first.request


def session_patient_id(sender_id: str) -> int:
    with db.session_scope(write=False) as session:
        return session.scalars(select(Patient.id).where(Patient.sender_id == sender_id)).one()


def test_declining_needs_a_reason_and_happens_once(
    target: Person, clinic: registry.ClinicView
) -> None:
    registry.update(clinic.slug, erasure_review=True)
    request = erasure.request_erasure(target.sender_id).request
    assert request is not None
    clinic_id = clinic_id_of(target)
    with pytest.raises(ValueError, match="reason"):
        erasure.decline_request(clinic_id, request.id, by="admin@harbour.example", note="  ")
    with pytest.raises(LookupError):
        erasure.decline_request(clinic_id + 1, request.id, by="x@y.example", note="no")
    declined = erasure.decline_request(
        clinic_id, request.id, by="admin@harbour.example", note="Records kept 10 years by law."
    )
    assert (declined.status, declined.note) == ("declined", "Records kept 10 years by law.")
    with pytest.raises(erasure.AlreadyResolved):
        erasure.decline_request(clinic_id, request.id, by="admin@harbour.example", note="again")
    assert [row.detail for row in audit_rows("decline_erasure")] == [{"request_id": request.id}]
    # A declined request does not block a new one.
    assert erasure.request_erasure(target.sender_id).kind == "requested"
    assert audit.ACTIONS.count("erase_patient") == 1
