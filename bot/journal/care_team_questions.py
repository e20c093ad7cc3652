"""Questions the care team writes for one patient, asked in their next session reflection.

A therapist writes a question on the patient page (:func:`ask`): "What did the lighthouse
image mean to you?". It waits (*pending*) until the patient's next session reflection, which
asks it after its own questions, one at a time, oldest first (:func:`pending_for`). What the
patient said is kept with the question and the journal entry it was given in
(:func:`record_outcomes`): *answered*, or *skipped* when they skipped it or did not know — a
skip is recorded as such, never as an answer, and the question is not asked again (the care
team can write it again). A reflection the patient discards leaves its questions pending.
Staff can withdraw a pending question (:func:`withdraw`); it is kept, marked withdrawn.

The question is clinical and the answer is the patient's words: both are sealed at rest,
erased with the patient's journal, re-sealed by key rotation, and part of every export.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.journal.parsing import clean_answer
from bot.storage import db
from bot.storage.models import CareTeamQuestion, JournalEntry, Patient, utcnow

__all__ = [
    "MAX_QUESTION_CHARS",
    "Outcome",
    "QuestionView",
    "ask",
    "by_entry",
    "next_question",
    "pending_for",
    "questions_of",
    "record_outcomes",
    "withdraw",
]

#: A question is one or two sentences: longer text belongs in a session, not in the chat.
MAX_QUESTION_CHARS = 500
PENDING, ANSWERED, SKIPPED, WITHDRAWN = "pending", "answered", "skipped", "withdrawn"


@dataclass(frozen=True)
class QuestionView:
    """A question as the patient page, the chat and the exports read it."""

    id: int
    question: str
    status: str
    created_at: datetime
    created_by: str
    answer: str | None = None
    answered_at: datetime | None = None
    #: The journal entry (its number, as the patient and the page see it) it was asked in.
    entry_number: int | None = None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    def as_export(self) -> dict[str, Any]:
        """The JSON export's form, inside the entry it was asked in (also read by FHIR)."""
        return {
            "id": self.id,
            "question": self.question,
            "asked_by": self.created_by,
            "asked_at": self.created_at.isoformat(),
            "status": self.status,
            "answer": self.answer,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
        }


@dataclass(frozen=True)
class Outcome:
    """What the patient did with one question in a reflection: its answer, or ``None`` for a
    skip. Kept in the conversation (slot ``care_team_answers``) until the entry is saved."""

    question_id: int
    answer: str | None

    def as_slot(self) -> dict[str, Any]:
        return {"id": self.question_id, "answer": self.answer}

    @classmethod
    def from_slot(cls, value: Any) -> Outcome | None:
        """An outcome read back from the slot; ``None`` for anything malformed."""
        if not isinstance(value, Mapping):
            return None
        question_id, answer = value.get("id"), value.get("answer")
        if not isinstance(question_id, int) or isinstance(question_id, bool):
            return None
        if answer is not None and not isinstance(answer, str):
            return None
        return cls(question_id, answer)

    @classmethod
    def all_from_slot(cls, value: Any) -> list[Outcome]:
        items = value if isinstance(value, list) else []
        return [outcome for outcome in map(cls.from_slot, items) if outcome is not None]


def _view(row: CareTeamQuestion, entry_number: int | None = None) -> QuestionView:
    return QuestionView(
        id=row.id,
        question=row.question,
        status=row.status,
        created_at=row.created_at,
        created_by=row.created_by,
        answer=row.answer,
        answered_at=row.answered_at,
        entry_number=entry_number,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by=row.withdrawn_by,
    )


def _patient_id(session: Session, sender_id: str, clinic_id: int | None = None) -> int | None:
    query = select(Patient.id).where(Patient.sender_id == sender_id)
    if clinic_id is not None:
        query = query.where(Patient.clinic_id == clinic_id)
    return session.scalar(query)


def clean_question(text: str) -> str:
    """The question as it will be asked: control characters out, spaces at the ends trimmed.

    ``ValueError`` for an empty question or one over :data:`MAX_QUESTION_CHARS`.
    """
    question = clean_answer(text or "").strip()
    if not question:
        raise ValueError("Write the question to ask.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"A question is at most {MAX_QUESTION_CHARS} characters.")
    return question


def ask(clinic_id: int, sender_id: str, question: str, *, by: str) -> QuestionView | None:
    """Keep a question for the patient's next reflection; ``None`` for a patient not of this
    clinic. ``ValueError`` for an empty or over-long question (:func:`clean_question`)."""
    text = clean_question(question)
    db.ensure_schema()
    with db.session_scope() as session:
        patient_id = _patient_id(session, sender_id, clinic_id)
        if patient_id is None:
            return None
        row = CareTeamQuestion(
            patient_id=patient_id,
            question=text,
            status=PENDING,
            created_at=utcnow(),
            created_by=by,
        )
        session.add(row)
        session.flush()
        return _view(row)


def withdraw(clinic_id: int, sender_id: str, question_id: int, *, by: str) -> bool | None:
    """Withdraw a pending question: ``None`` if it is not this clinic's patient's, ``False`` if
    it was no longer pending (asked already, or withdrawn)."""
    db.ensure_schema()
    with db.session_scope() as session:
        row = session.scalars(
            select(CareTeamQuestion)
            .join(Patient, Patient.id == CareTeamQuestion.patient_id)
            .where(
                CareTeamQuestion.id == question_id,
                Patient.sender_id == sender_id,
                Patient.clinic_id == clinic_id,
            )
            .with_for_update()
        ).one_or_none()
        if row is None:
            return None
        if row.status != PENDING:
            return False
        row.status = WITHDRAWN
        row.withdrawn_at = utcnow()
        row.withdrawn_by = by
        return True


def _rows_with_entries(session: Session, patient_id: int) -> list[QuestionView]:
    rows = session.execute(
        select(CareTeamQuestion, JournalEntry.number)
        .outerjoin(JournalEntry, JournalEntry.id == CareTeamQuestion.entry_id)
        .where(CareTeamQuestion.patient_id == patient_id)
        .order_by(CareTeamQuestion.created_at, CareTeamQuestion.id)
    ).all()
    return [_view(row, number) for row, number in rows]


def questions_of(sender_id: str) -> list[QuestionView]:
    """Every question written for the patient: the pending ones first, oldest first (the
    order they will be asked in), then the others, newest first."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patient_id = _patient_id(session, sender_id)
        if patient_id is None:
            return []
        views = _rows_with_entries(session, patient_id)
    pending = [view for view in views if view.pending]
    others = [view for view in reversed(views) if not view.pending]
    return pending + others


def pending_for(sender_id: str) -> list[QuestionView]:
    """The questions the next reflection asks, oldest first."""
    return [view for view in questions_of(sender_id) if view.pending]


def next_question(sender_id: str, handled: Collection[int] = ()) -> QuestionView | None:
    """The question the reflection asks next: the oldest pending one not ``handled`` in it."""
    return next((view for view in pending_for(sender_id) if view.id not in handled), None)


def record_outcomes(sender_id: str, entry_number: int, outcomes: Iterable[Outcome]) -> int:
    """Keep what the patient did with each question, with the entry it was asked in: its
    answer (sealed), or *skipped*. Only questions still pending change (one withdrawn while
    it was being asked stays withdrawn). How many changed."""
    wanted = {outcome.question_id: outcome for outcome in outcomes}
    if not wanted:
        return 0
    now = utcnow()
    db.ensure_schema()
    with db.session_scope() as session:
        patient_id = _patient_id(session, sender_id)
        if patient_id is None:
            return 0
        entry_id = session.scalar(
            select(JournalEntry.id).where(
                JournalEntry.patient_id == patient_id, JournalEntry.number == entry_number
            )
        )
        rows = session.scalars(
            select(CareTeamQuestion)
            .where(
                CareTeamQuestion.patient_id == patient_id,
                CareTeamQuestion.id.in_(sorted(wanted)),
                CareTeamQuestion.status == PENDING,
            )
            .with_for_update()
        )
        changed = 0
        for row in rows:
            answer = wanted[row.id].answer
            row.status = ANSWERED if answer is not None else SKIPPED
            row.answer = answer
            row.answered_at = now
            row.entry_id = entry_id
            changed += 1
        return changed


def by_entry(session: Session, patient_id: int) -> dict[int, list[QuestionView]]:
    """The questions asked in each of the patient's entries, by entry id, in the order asked;
    for exports that read entries in their own session."""
    rows = session.scalars(
        select(CareTeamQuestion)
        .where(CareTeamQuestion.patient_id == patient_id, CareTeamQuestion.entry_id.is_not(None))
        .order_by(CareTeamQuestion.created_at, CareTeamQuestion.id)
    )
    found: dict[int, list[QuestionView]] = {}
    for row in rows:
        found.setdefault(int(row.entry_id or 0), []).append(_view(row))
    return found


def for_entries(views: Sequence[QuestionView], number: int) -> list[QuestionView]:
    """The questions of one entry, from a patient's :func:`questions_of`."""
    return [view for view in views if view.entry_number == number]
