"""The patients list's search, filters and paging (bot.records.list_patients, page_of), and who
a real clinic's list leaves out; on real SQLite files and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot import records, settings
from bot.clinics import patients, registry
from bot.journal import entries as journal
from bot.records import PatientFilters
from bot.storage import db
from bot.storage.models import Clinic, JournalEntry, Patient, RiskFlag, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def clinic_id(slug: str) -> int:
    with db.session_scope(write=False) as session:
        return session.scalars(select(Clinic.id).where(Clinic.slug == slug)).one()


def new_clinic(slug: str = "north") -> int:
    registry.create(slug, slug.title(), origins=[f"https://{slug}.example"])
    return clinic_id(slug)


def invite(label: str | None = None, slug: str = "north") -> str:
    return patients.invite(slug, label=label).sender_id


def listed(clinic: int, **filters: object) -> list[str]:
    return [s.sender_id for s in records.list_patients(clinic, filters=PatientFilters(**filters))]


def backdate(sender_id: str, days: int) -> None:
    """Move everything the patient did ``days`` days into the past."""
    at = utcnow() - timedelta(days=days)
    with db.session_scope() as session:
        patient_id = session.scalars(select(Patient.id).where(Patient.sender_id == sender_id)).one()
        session.execute(
            update(JournalEntry).where(JournalEntry.patient_id == patient_id).values(created_at=at)
        )
        session.execute(
            update(RiskFlag).where(RiskFlag.patient_id == patient_id).values(created_at=at)
        )


def test_search_matches_the_label_anywhere_or_the_start_of_the_id(clinic_db: str) -> None:
    north = new_clinic()
    ada, bo, nobody = invite("Ada M. 3017"), invite("Bo Ramsay 2290"), invite()

    assert listed(north, search="ada m") == [ada]
    assert listed(north, search="AMSAY") == [bo]  # inside the label, whatever the case
    assert listed(north, search="30") == [ada]
    assert listed(north, search=nobody[:8]) == [nobody]  # the short id staff read out
    assert listed(north, search=nobody[:8].upper()) == [nobody]
    assert listed(north, search=nobody[4:12]) == []  # the id only from its start
    assert listed(north, search="zzz") == []
    assert sorted(listed(north)) == sorted([ada, bo, nobody])


def test_flagged_and_level_filters(clinic_db: str) -> None:
    north = new_clinic()
    urgent, info, seen, calm = (invite(f"P{n}") for n in range(4))
    journal.record_risk_flag(urgent, message="m", category="suicide", source="t")
    journal.record_risk_flag(info, message="m", category="craving", source="t", level="info")
    seen_flag = journal.record_risk_flag(seen, message="m", category="suicide", source="t")
    ref = records.find_patient(north, seen)
    records.acknowledge_flag(ref, seen_flag, by="t@north.example", action="Seen in session")
    journal.save_entry(calm, "checkin", fields={"note": "fine"}, mood=7)

    assert listed(north, flagged=True) == [urgent, info]
    assert listed(north, level="info") == [info]
    assert listed(north, level="urgent", flagged=True) == [urgent]
    assert listed(north, flagged=True, search="P1") == [info]


def test_quiet_means_no_activity_for_more_than_seven_days(clinic_db: str) -> None:
    north = new_clinic()
    recent, eight, six, never = (invite(f"Q{n}") for n in range(4))
    for sender_id in (recent, eight, six):
        journal.save_entry(sender_id, "checkin", fields={"note": "x"}, mood=5)
    backdate(eight, 8)
    backdate(six, 6)

    assert sorted(listed(north, quiet=True)) == sorted([eight, never])
    summaries = {s.sender_id: s for s in records.list_patients(north)}
    # The boundary: exactly seven days ago is not "more than seven days".
    at_seven = summaries[six].last_activity + timedelta(days=7)
    quiet = PatientFilters(quiet=True)
    assert not quiet.matches(summaries[six], at_seven)
    assert quiet.matches(summaries[six], at_seven + timedelta(seconds=1))


def test_a_real_clinic_lists_only_its_invited_or_active_patients(
    clinic_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anonymous sessions (the demo's visitors, load tests) that never wrote anything are not
    a clinic's patients; in the demo clinic, everyone is listed."""
    monkeypatch.setenv("COMPANION_DEMO_MODE", "1")
    north = new_clinic()
    registry.update("north", allow_anonymous=True)
    invited_one = invite("Invited")
    for _ in range(3):
        patients.start_anonymous("north", "https://north.example")
    with db.session_scope(write=False) as session:
        anonymous = list(
            session.scalars(
                select(Patient.sender_id)
                .where(Patient.clinic_id == north, Patient.sender_id != invited_one)
                .order_by(Patient.id)
            )
        )
    assert len(anonymous) == 3
    silent, wrote, raised = anonymous
    journal.save_entry(wrote, "checkin", fields={"note": "hi"}, mood=4)
    journal.record_risk_flag(raised, message="help", category=None, source="t")

    assert sorted(listed(north)) == sorted([invited_one, wrote, raised])
    assert silent not in listed(north, search=silent[:10])

    demo = registry.ensure_demo_clinic()
    assert demo is not None and demo.slug == settings.demo_clinic_slug()
    patients.start_anonymous(demo.slug, registry.demo_origins()[0])
    assert len(records.list_patients(clinic_id(demo.slug))) == 1


@pytest.mark.parametrize(
    ("count", "page", "expected"),
    [
        (120, 1, (1, 3, 1, 50)),
        (120, 2, (2, 3, 51, 100)),
        (120, 3, (3, 3, 101, 120)),
        (120, 4, (3, 3, 101, 120)),  # past the end: the last page
        (120, 0, (1, 3, 1, 50)),
        (100, 2, (2, 2, 51, 100)),  # exactly two full pages, no empty third
        (101, 3, (3, 3, 101, 101)),
        (50, 1, (1, 1, 1, 50)),
        (0, 1, (1, 1, 0, 0)),
    ],
)
def test_pages_of_fifty(count: int, page: int, expected: tuple[int, int, int, int]) -> None:
    summaries = [
        records.PatientSummary(
            sender_id=f"p-{n:04d}",
            created_at=utcnow(),
            last_activity=None,
            latest_mood=None,
            latest_mood_at=None,
            latest_craving=None,
            latest_craving_at=None,
            open_flags=0,
            entries=0,
        )
        for n in range(count)
    ]

    shown = records.page_of(summaries, page)

    assert (shown.page, shown.pages, shown.first, shown.last) == expected
    assert shown.total == count
    assert len(shown.patients) == (expected[3] - expected[2] + 1 if count else 0)
    if shown.patients:
        assert shown.patients[0].sender_id == f"p-{expected[2] - 1:04d}"


def test_the_audit_detail_names_the_filters_never_the_search_text() -> None:
    filters = PatientFilters(search="Ada Lovelace", level="urgent", flagged=True, quiet=True)

    detail = filters.audit_detail()

    assert detail == {"search": True, "level": "urgent", "flagged": True, "quiet": True}
    assert "Ada" not in repr(detail)
    assert PatientFilters().audit_detail() == {} and not PatientFilters().active
