"""What the care team does about a risk flag: the action taken, undoing an acknowledgement,
and the follow-ups acknowledgements asked for.

Acknowledging (:func:`bot.records.queries.acknowledge_flag`) records what was done - one of
the clinic's actions (``clinics.flag_actions``), a note, and optionally a day to come back to
the patient - in a :class:`FlagAction` row, and stamps the flag's ``acknowledged_at``/``acknowledged_by``, which is what everything else
reads (the notices' outbox, the lists, erasure). Undoing it opens the flag again and marks
the row undone instead of deleting it: a clinical record keeps what was believed done, and
when that changed. The audit rows are written by the dashboard, which calls these.

Like :mod:`.queries`, every function takes a patient found within the viewer's clinic (or
the clinic itself) and finds nothing outside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.records.views import Acknowledgement, FollowUp, PatientRef
from bot.storage import db
from bot.storage.models import (
    DEFAULT_FLAG_ACTIONS,
    Clinic,
    FlagAction,
    Patient,
    RiskFlag,
    Therapist,
    utcnow,
)

#: Longest note accepted: a few paragraphs, not a chart.
MAX_NOTE = 2000
#: How far ahead a follow-up may be set: a later date is more likely a typo than a plan.
MAX_FOLLOW_UP = timedelta(days=366)


class ActionError(ValueError):
    """An acknowledgement that cannot be recorded as given; the message says why, for staff."""


# ----------------------------------------------------------------------------- checking


def clinic_actions(clinic_id: int) -> tuple[str, ...]:
    """The actions the clinic's staff choose from, in the clinic's order."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        actions = session.scalar(select(Clinic.flag_actions).where(Clinic.id == clinic_id))
    return tuple(actions or DEFAULT_FLAG_ACTIONS)


def check_acknowledgement(
    clinic_id: int, *, action: str, note: str, follow_up: str, today: date
) -> tuple[str, str | None, date | None]:
    """The form's action, note and follow-up date as they will be stored.

    The action must be one of the clinic's (a list the clinic chose, so that what teams do can
    be counted); the note is optional, up to :data:`MAX_NOTE` characters; the follow-up is an
    ISO date from ``today`` to a year ahead, or nothing. :class:`ActionError` says what is wrong.
    """
    chosen = (action or "").strip()
    if chosen not in clinic_actions(clinic_id):
        raise ActionError("Choose what was done from the clinic's list.")
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise ActionError(f"The note must be at most {MAX_NOTE} characters long.")
    due: date | None = None
    if (follow_up or "").strip():
        try:
            due = date.fromisoformat(follow_up.strip())
        except ValueError:
            raise ActionError("The follow-up must be a date (YYYY-MM-DD).") from None
        if due < today:
            raise ActionError("The follow-up date is in the past.")
        if due > today + MAX_FOLLOW_UP:
            raise ActionError("The follow-up date must be within a year.")
    return chosen, text or None, due


# ----------------------------------------------------------------------------- changes


def undo_acknowledgement(patient: PatientRef, flag_id: int, *, by: str) -> bool | None:
    """Open the patient's acknowledged flag again; ``by`` undid it.

    ``None`` if the flag is not this patient's, ``False`` if it was open already. The
    acknowledgement stays in the flag's history, marked undone by ``by`` now; one made before
    actions were recorded gets its row then, so that who acknowledged it is not lost. The
    flag takes no more messages of its patient (a new message starts a new flag), and if its
    notice was never sent, the outbox now sends it like any other open flag's.
    """
    db.ensure_schema()
    with db.session_scope() as session:
        flag = session.scalars(
            select(RiskFlag)
            .where(RiskFlag.id == flag_id, RiskFlag.patient_id == patient.id)
            .with_for_update()
        ).one_or_none()
        if flag is None:
            return None
        if flag.acknowledged_at is None:
            return False
        now = utcnow()
        standing = session.scalars(
            select(FlagAction).where(FlagAction.flag_id == flag.id, FlagAction.undone_at.is_(None))
        ).all()
        if not standing:
            session.add(
                FlagAction(
                    flag_id=flag.id,
                    acknowledged_at=flag.acknowledged_at,
                    acknowledged_by=flag.acknowledged_by or "unknown",
                    undone_at=now,
                    undone_by=by,
                )
            )
        for row in standing:
            row.undone_at, row.undone_by = now, by
        flag.acknowledged_at = None
        flag.acknowledged_by = None
        return True


def complete_follow_up(patient: PatientRef, flag_id: int, *, by: str) -> bool | None:
    """Mark the follow-up of the patient's flag done by ``by``, now.

    ``None`` if the flag is not this patient's, ``False`` if it has no open follow-up (none
    was asked for, it was done already, or the acknowledgement was undone).
    """
    db.ensure_schema()
    with db.session_scope() as session:
        owner = session.scalar(
            select(RiskFlag.id).where(RiskFlag.id == flag_id, RiskFlag.patient_id == patient.id)
        )
        if owner is None:
            return None
        result = session.execute(
            update(FlagAction)
            .where(
                FlagAction.flag_id == flag_id,
                FlagAction.undone_at.is_(None),
                FlagAction.follow_up.is_not(None),
                FlagAction.follow_up_done_at.is_(None),
            )
            .values(follow_up_done_at=utcnow(), follow_up_done_by=by)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- reading


def acknowledgements_of(
    session: Session, flag_ids: Iterable[int]
) -> dict[int, tuple[Acknowledgement, ...]]:
    """Each flag's acknowledgements, oldest first (an empty tuple for a flag without any)."""
    ids = list(flag_ids)
    found: dict[int, list[Acknowledgement]] = defaultdict(list)
    if ids:
        rows = session.scalars(
            select(FlagAction).where(FlagAction.flag_id.in_(ids)).order_by(FlagAction.id)
        )
        for row in rows:
            found[row.flag_id].append(_acknowledgement(row))
    return {flag_id: tuple(found.get(flag_id, ())) for flag_id in ids}


def open_follow_ups(
    clinic_id: int, *, therapist_id: int | None = None, unassigned: bool = False
) -> list[FollowUp]:
    """The clinic's follow-ups not yet done, the earliest due first.

    With ``therapist_id``, only those of patients assigned to that therapist; with
    ``unassigned``, only those of patients assigned to nobody (the patients list's filter).
    """
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        query = (
            select(FlagAction, RiskFlag, Patient, Therapist.email)
            .join(RiskFlag, RiskFlag.id == FlagAction.flag_id)
            .join(Patient, Patient.id == RiskFlag.patient_id)
            .outerjoin(Therapist, Therapist.id == Patient.therapist_id)
            .where(
                Patient.clinic_id == clinic_id,
                FlagAction.undone_at.is_(None),
                FlagAction.follow_up.is_not(None),
                FlagAction.follow_up_done_at.is_(None),
                RiskFlag.acknowledged_at.is_not(None),
            )
            .order_by(FlagAction.follow_up, FlagAction.id)
        )
        if therapist_id is not None:
            query = query.where(Patient.therapist_id == therapist_id)
        if unassigned:
            query = query.where(Patient.therapist_id.is_(None))
        return [
            FollowUp(
                sender_id=patient.sender_id,
                label=patient.label,
                flag_id=flag.id,
                flag_level=flag.level,
                flag_category=flag.category,
                flag_created_at=flag.created_at,
                action=row.action,
                due=row.follow_up,
                acknowledged_by=row.acknowledged_by,
                acknowledged_at=row.acknowledged_at,
                therapist_email=email,
            )
            for row, flag, patient, email in session.execute(query).all()
        ]


def _acknowledgement(row: FlagAction) -> Acknowledgement:
    return Acknowledgement(
        id=row.id,
        action=row.action,
        note=row.note,
        follow_up=row.follow_up,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        undone_at=row.undone_at,
        undone_by=row.undone_by,
        follow_up_done_at=row.follow_up_done_at,
        follow_up_done_by=row.follow_up_done_by,
    )
