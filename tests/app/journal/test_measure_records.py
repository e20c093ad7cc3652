"""Validated measures in the database (bot.journal.measure_records): schedules by clinic, what
is due, results scored and kept whole, schedules moving on; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.journal import entries as journal
from bot.journal import measure_records
from bot.storage import db
from bot.storage.models import MeasureSchedule, Patient, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SENDER = "p-measures"
STAFF = "dr.lee@clinic.example"
PHQ9_MILD = [1, 1, 1, 1, 1, 1, 1, 0, 0]  # total 7: mild, item 9 at 0


@pytest.fixture
def clinic_id(database_url: str) -> int:
    """A patient (in the demo clinic, as a first journal write makes them): their clinic."""
    journal.save_entry(SENDER, "checkin", fields={"note": "hi"}, mood=5)
    with db.session_scope(write=False) as session:
        return session.scalars(select(Patient.clinic_id).where(Patient.sender_id == SENDER)).one()


def test_a_schedule_is_due_from_its_first_day(clinic_id: int) -> None:
    today = utcnow().date()
    later = measure_records.schedule(
        clinic_id, SENDER, "gad7", by=STAFF, start=today + timedelta(days=3)
    )
    assert later is not None and later.short == "GAD-7" and later.active
    assert measure_records.due_for(SENDER) is None
    assert measure_records.due_for(SENDER, today + timedelta(days=3)).id == later.id

    now = measure_records.schedule(clinic_id, SENDER, "phq9", by=STAFF, every_days=14)
    assert measure_records.due_for(SENDER).id == now.id
    assert measure_records.due_by_patient(clinic_id) == {SENDER: ["PHQ-9"]}


@pytest.mark.parametrize(
    ("measure", "options", "problem"),
    [
        ("bdi", {}, "Unknown measure"),
        ("phq9", {"every_days": 0}, "repeats every 1 to"),
        ("phq9", {"every_days": 400}, "repeats every 1 to"),
        ("phq9", {"start_in": -1}, "today or a day within"),
        ("phq9", {"start_in": 400}, "today or a day within"),
    ],
)
def test_schedules_that_cannot_be_kept_are_refused(
    clinic_id: int, measure: str, options: dict[str, int], problem: str
) -> None:
    options = dict(options)  # the parameters are shared by both databases' runs
    start_in = options.pop("start_in", 0)
    with pytest.raises(ValueError, match=problem):
        measure_records.schedule(
            clinic_id,
            SENDER,
            measure,
            by=STAFF,
            start=utcnow().date() + timedelta(days=start_in),
            **options,
        )
    assert measure_records.schedules_of(SENDER) == []


def test_another_clinic_can_neither_schedule_nor_cancel(clinic_id: int) -> None:
    assert measure_records.schedule(clinic_id + 1000, SENDER, "phq9", by=STAFF) is None
    plan = measure_records.schedule(clinic_id, SENDER, "phq9", by=STAFF)
    assert measure_records.cancel(clinic_id + 1000, SENDER, plan.id, by=STAFF) is None
    assert measure_records.due_for(SENDER).id == plan.id


def test_answering_moves_a_repeating_schedule_on_and_ends_a_one_off(clinic_id: int) -> None:
    repeating = measure_records.schedule(clinic_id, SENDER, "phq9", by=STAFF, every_days=14)
    once = measure_records.schedule(clinic_id, SENDER, "audit_c", by=STAFF)

    result = measure_records.save_result(SENDER, "phq9", PHQ9_MILD, schedule_id=repeating.id)
    measure_records.save_result(SENDER, "audit_c", [1, 1, 1], schedule_id=once.id)

    assert (result.total, result.max_total, result.band) == (7, 27, "mild")
    assert not result.safety_item_positive
    plans = {plan.id: plan for plan in measure_records.schedules_of(SENDER)}
    assert plans[repeating.id].due_on == utcnow().date() + timedelta(days=14)
    assert plans[repeating.id].active
    assert plans[once.id].completed_at is not None and not plans[once.id].active
    assert measure_records.due_for(SENDER) is None
    assert [(r.measure, r.total, r.band) for r in measure_records.results_of(SENDER)] == [
        ("phq9", 7, "mild"),
        ("audit_c", 3, "positive (≥3)"),
    ]


def test_item_nine_is_kept_whatever_the_total(clinic_id: int) -> None:
    result = measure_records.save_result(SENDER, "phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert (result.total, result.band, result.safety_item_positive) == (1, "minimal", True)
    assert result.as_export()["safety_item_positive"] is True


@pytest.mark.parametrize("answers", [[1, 1, 1], [1] * 8, [4] * 9, [1] * 10])
def test_a_partial_or_impossible_set_is_never_stored(clinic_id: int, answers: list[int]) -> None:
    with pytest.raises(ValueError):
        measure_records.save_result(SENDER, "phq9", answers)
    assert measure_records.results_of(SENDER) == []


def test_cancelled_is_kept_with_who_and_is_no_longer_due(clinic_id: int) -> None:
    plan = measure_records.schedule(clinic_id, SENDER, "phq9", by=STAFF)
    assert measure_records.cancel(clinic_id, SENDER, plan.id, by="admin@clinic.example") is True
    assert measure_records.cancel(clinic_id, SENDER, plan.id, by=STAFF) is False
    assert measure_records.due_for(SENDER) is None
    with db.session_scope(write=False) as session:
        row = session.get(MeasureSchedule, plan.id)
        assert row.cancelled_by == "admin@clinic.example" and row.cancelled_at is not None
