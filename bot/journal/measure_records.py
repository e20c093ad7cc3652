"""Validated measures in the database: what the care team scheduled, what the patient answered.

A therapist schedules a measure for one patient (:func:`schedule`): once, or every so many
days from a first day. From that day on it is *due*, and the chat offers it
(:func:`due_for`); the patient's answers are scored by :mod:`bot.journal.measures` and kept
(:func:`save_result`), which moves a repeating schedule on by its interval from the day it
was answered and ends a one-off. Results are the patient's data: they go with an erasure,
into every export, and onto the patient page. Schedules are the clinic's: cancelling one keeps
it, with who cancelled it and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.journal import measures
from bot.storage import db
from bot.storage.models import MEASURE_IDS, MeasureResult, MeasureSchedule, Patient, utcnow

#: The longest interval a schedule may repeat at (a year), and the latest first day.
MAX_EVERY_DAYS = 366
MAX_START_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class ScheduleView:
    """A scheduled measure, as the patient page lists it."""

    id: int
    measure: str
    short: str
    every_days: int | None
    due_on: date
    created_at: datetime
    created_by: str
    completed_at: datetime | None
    cancelled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.completed_at is None and self.cancelled_at is None

    def due(self, today: date) -> bool:
        return self.active and self.due_on <= today


@dataclass(frozen=True)
class ResultView:
    """An answered measure: the scores, the total, its band and the safety item."""

    id: int
    measure: str
    short: str
    answers: tuple[int, ...]
    total: int
    max_total: int
    band: str
    safety_item_positive: bool
    completed_at: datetime

    def as_export(self) -> dict[str, Any]:
        """The JSON export's form (also read by the FHIR export)."""
        return {
            "measure": self.measure,
            "total": self.total,
            "max_total": self.max_total,
            "band": self.band,
            "answers": list(self.answers),
            "safety_item_positive": self.safety_item_positive,
            "completed_at": self.completed_at.isoformat(),
        }


def _schedule_view(row: MeasureSchedule) -> ScheduleView:
    return ScheduleView(
        id=row.id,
        measure=row.measure,
        short=measures.measure(row.measure).short,
        every_days=row.every_days,
        due_on=row.due_on,
        created_at=row.created_at,
        created_by=row.created_by,
        completed_at=row.completed_at,
        cancelled_at=row.cancelled_at,
    )


def result_view(row: MeasureResult) -> ResultView:
    instrument = measures.measure(row.measure)
    return ResultView(
        id=row.id,
        measure=row.measure,
        short=instrument.short,
        answers=tuple(row.answers),
        total=row.total,
        max_total=instrument.max_total,
        band=row.band,
        safety_item_positive=row.safety_item_positive,
        completed_at=row.completed_at,
    )


def _patient_id(session: Session, sender_id: str, clinic_id: int | None = None) -> int | None:
    query = select(Patient.id).where(Patient.sender_id == sender_id)
    if clinic_id is not None:
        query = query.where(Patient.clinic_id == clinic_id)
    return session.scalar(query)


def schedule(
    clinic_id: int,
    sender_id: str,
    measure: str,
    *,
    by: str,
    every_days: int | None = None,
    start: date | None = None,
) -> ScheduleView | None:
    """Ask a patient of this clinic to fill in ``measure`` from ``start`` (default today),
    once or every ``every_days`` days; ``None`` for a patient not of this clinic.

    ``ValueError`` for an unknown measure, an interval out of range, or a first day in the
    past or more than a year ahead.
    """
    today = utcnow().date()
    start = start or today
    if measure not in MEASURE_IDS:
        raise ValueError(f"Unknown measure {measure!r}.")
    if every_days is not None and not 1 <= every_days <= MAX_EVERY_DAYS:
        raise ValueError(f"A measure repeats every 1 to {MAX_EVERY_DAYS} days.")
    if not today <= start <= today + MAX_START_AHEAD:
        raise ValueError("The first day is today or a day within the next year.")
    db.ensure_schema()
    with db.session_scope() as session:
        patient_id = _patient_id(session, sender_id, clinic_id)
        if patient_id is None:
            return None
        row = MeasureSchedule(
            patient_id=patient_id,
            measure=measure,
            every_days=every_days,
            due_on=start,
            created_at=utcnow(),
            created_by=by,
        )
        session.add(row)
        session.flush()
        return _schedule_view(row)


def cancel(clinic_id: int, sender_id: str, schedule_id: int, *, by: str) -> bool | None:
    """Stop a schedule of a patient of this clinic: ``None`` if it is not theirs, ``False`` if
    it had already ended."""
    db.ensure_schema()
    with db.session_scope() as session:
        row = session.scalars(
            select(MeasureSchedule)
            .join(Patient, Patient.id == MeasureSchedule.patient_id)
            .where(
                MeasureSchedule.id == schedule_id,
                Patient.sender_id == sender_id,
                Patient.clinic_id == clinic_id,
            )
        ).one_or_none()
        if row is None:
            return None
        if row.completed_at is not None or row.cancelled_at is not None:
            return False
        row.cancelled_at = utcnow()
        row.cancelled_by = by
        return True


def schedules_of(sender_id: str) -> list[ScheduleView]:
    """A patient's schedules, the active ones first, each group newest first."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patient_id = _patient_id(session, sender_id)
        if patient_id is None:
            return []
        rows = session.scalars(
            select(MeasureSchedule)
            .where(MeasureSchedule.patient_id == patient_id)
            .order_by(MeasureSchedule.created_at.desc(), MeasureSchedule.id.desc())
        )
        views = [_schedule_view(row) for row in rows]
    return sorted(views, key=lambda view: not view.active)


def due_for(sender_id: str, today: date | None = None) -> ScheduleView | None:
    """The measure the chat should offer now: the due schedule that has waited longest."""
    today = today or utcnow().date()
    due = [view for view in schedules_of(sender_id) if view.due(today)]
    return min(due, key=lambda view: (view.due_on, view.id)) if due else None


def due_by_patient(clinic_id: int, today: date | None = None) -> dict[str, list[str]]:
    """For the patients list: each patient's due measures (short names), by sender id."""
    today = today or utcnow().date()
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        rows = session.execute(
            select(Patient.sender_id, MeasureSchedule.measure)
            .join(Patient, Patient.id == MeasureSchedule.patient_id)
            .where(
                Patient.clinic_id == clinic_id,
                MeasureSchedule.completed_at.is_(None),
                MeasureSchedule.cancelled_at.is_(None),
                MeasureSchedule.due_on <= today,
            )
            .order_by(MeasureSchedule.due_on, MeasureSchedule.id)
        ).all()
    due: dict[str, list[str]] = {}
    for sender_id, measure in rows:
        due.setdefault(sender_id, []).append(measures.measure(measure).short)
    return due


def save_result(
    sender_id: str, measure: str, answers: Sequence[int], *, schedule_id: int | None = None
) -> ResultView:
    """Score and keep a patient's answers; the schedule they answered moves on (or ends).

    ``ValueError`` (from :func:`bot.journal.measures.score`) for answers that are not a full,
    valid set: a partial measure is never stored as if it were a score.
    """
    scored = measures.score(measure, answers)
    now = utcnow()
    db.ensure_schema()
    with db.session_scope() as session:
        patient_id = _patient_id(session, sender_id)
        if patient_id is None:
            raise LookupError("no such patient")
        plan = None
        if schedule_id is not None:
            plan = session.scalars(
                select(MeasureSchedule).where(
                    MeasureSchedule.id == schedule_id,
                    MeasureSchedule.patient_id == patient_id,
                    MeasureSchedule.measure == measure,
                )
            ).one_or_none()
        row = MeasureResult(
            patient_id=patient_id,
            measure=measure,
            answers=list(scored.answers),
            total=scored.total,
            band=scored.band,
            safety_item_positive=scored.safety_item_positive,
            completed_at=now,
            schedule_id=plan.id if plan else None,
        )
        session.add(row)
        if plan is not None and plan.cancelled_at is None and plan.completed_at is None:
            if plan.every_days:
                plan.due_on = now.date() + timedelta(days=plan.every_days)
            else:
                plan.completed_at = now
        session.flush()
        return result_view(row)


def results_of(sender_id: str) -> list[ResultView]:
    """A patient's answered measures, oldest first."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patient_id = _patient_id(session, sender_id)
        if patient_id is None:
            return []
        rows = session.scalars(
            select(MeasureResult)
            .where(MeasureResult.patient_id == patient_id)
            .order_by(MeasureResult.completed_at, MeasureResult.id)
        )
        return [result_view(row) for row in rows]
