"""Erasing a patient's data, and the erasure requests of clinics that must keep records.

What an erasure removes, each store in its own transaction so that one failing store does not
keep the others' data alive:

- ``journal``: every journal entry, and the questions the care team wrote for the patient's
  reflections with their answers (counted as ``care_team_questions`` when there were any);
- ``risk_flags``: every risk flag with the message that raised it - except a flag whose care
  team has not been told of it yet: not notified, not acknowledged, and of a level the clinic
  is notified of. Deleting that one would silently cancel an urgent notice (a patient in
  crisis who then erases everything is exactly who must not fall through). Such a flag keeps
  its level, category, source and time; its message becomes ``""`` and ``erased_at`` is set.
  The notifier deletes it as soon as its notice is delivered, or once it is acknowledged on
  the dashboard (:mod:`bot.clinics.notify`). The receipt counts these as ``kept_until_notified``.
  What staff recorded about the flags (:class:`~bot.storage.models.FlagAction`) goes the same
  way: a deleted flag's actions are deleted with it, and a kept flag's actions keep what was
  done and when but lose their note, which is staff's text about the patient. The receipt
  counts the notes erased as ``action_notes`` (when there were any);
- ``sessions``: the patient's reminder opt-ins (their address), the sessions they told in the
  chat and every follow-up after a session; sessions staff recorded are the clinic's record
  and stay, like measure schedules;
- ``events``: the patient's conversation in Rasa's tracker store (a database where Rasa never
  ran has no such table: nothing to erase there). The same transaction sets
  ``patients.erased_at``, which the tracker store reads so that a turn in flight does not
  write the erased events back;
- ``erasure_requests``: the patient's open requests are marked ``erased`` - only when every
  other store was erased, so that a partial erasure stays visible as an open request.

What else it keeps, on purpose: the ``patients`` row, the patient's links and their consent
records (``patient_consents``, which show that what was kept was kept with consent). They hold
ids, versions and timestamps only, never anything the patient wrote, and the audit log must go
on naming the patient its rows are about - an erasure that made its own receipt meaningless could not be
checked. The patient can keep chatting with the same link afterwards.

Every erasure leaves a receipt in the audit log (action ``erase_patient``): who, which
patient, how many rows per store or which error class stopped a store, and the request it
resolved. It is written whether or not every store succeeded (outcome ``failed`` if not).

SQLite's ``secure_delete`` zeroes deleted rows in the file; the write-ahead log is then
checkpointed and truncated so no copy of the old pages stays in ``-wal`` either. On
PostgreSQL deleted rows stay in the table's pages until ``VACUUM`` reclaims them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from bot.clinics import audit
from bot.storage import db
from bot.storage.models import (
    CareTeamQuestion,
    Clinic,
    ErasureRequest,
    FlagAction,
    JournalEntry,
    MeasureResult,
    Patient,
    RecordedSession,
    ReminderSubscription,
    RiskFlag,
    SessionFollowUp,
    utcnow,
)
from bot.storage.rasa_events import EVENTS, events_exist

__all__ = [
    "STORES",
    "AlreadyResolved",
    "ErasureOutcome",
    "ErasureReceipt",
    "ErasureRequestView",
    "UnknownPatient",
    "decline_request",
    "erase_patient",
    "list_requests",
    "open_request_for",
    "patient_erased_at",
    "request_erasure",
    "request_of",
]

logger = logging.getLogger(__name__)

#: The stores an erasure goes through, in this order.
STORES: tuple[str, ...] = (
    "journal",
    "risk_flags",
    "measures",
    "sessions",
    "events",
    "erasure_requests",
)
#: The actor of everything the patient does from the chat.
PATIENT = "patient"
MAX_NOTE = 2000
#: How many resolved requests the dashboard lists (open ones are always all listed).
RESOLVED_LIMIT = 200


class UnknownPatient(LookupError):
    """No patient has this sender id (nothing of theirs is stored in the journal's tables)."""


class AlreadyResolved(ValueError):
    """The erasure request was erased or declined already."""


@dataclass(frozen=True)
class ErasureReceipt:
    """What one erasure did, store by store: ``{"erased": n}`` or ``{"failed": "<class>"}``;
    ``risk_flags`` adds ``"kept_until_notified": n`` when it kept flags without their text."""

    sender_id: str
    clinic_id: int
    actor: str
    at: datetime
    request_id: int | None
    stores: dict[str, dict[str, int | str]] = field(default_factory=dict)

    @property
    def erased(self) -> dict[str, int]:
        """Rows erased per store that succeeded."""
        return {
            name: int(result["erased"])
            for name, result in self.stores.items()
            if "erased" in result
        }

    @property
    def kept_until_notified(self) -> int:
        """Risk flags kept, without what the patient wrote, until their notice is delivered."""
        return int(self.stores.get("risk_flags", {}).get("kept_until_notified", 0))

    @property
    def failed(self) -> tuple[str, ...]:
        """The stores that could not be erased (empty when the erasure is complete)."""
        return tuple(name for name, result in self.stores.items() if "failed" in result)

    @property
    def ok(self) -> bool:
        return not self.failed

    def audit_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"stores": {k: dict(v) for k, v in self.stores.items()}}
        if self.request_id is not None:
            detail["request_id"] = self.request_id
        return detail


@dataclass(frozen=True)
class ErasureRequestView:
    """An erasure request, detached from the database session."""

    id: int
    clinic_id: int
    sender_id: str
    requested_at: datetime
    requested_by: str
    status: str
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class ErasureOutcome:
    """What the patient's "delete my data" led to.

    ``kind``: ``"erased"`` (``receipt`` says what), ``"requested"`` (a new request for the
    clinic, in ``request``), ``"already_requested"`` (the open one, in ``request``) or
    ``"unknown"`` (no patient with this sender id: nothing stored to erase).
    """

    kind: str
    receipt: ErasureReceipt | None = None
    request: ErasureRequestView | None = None


# ----------------------------------------------------------------------------- helpers


def _view(request: ErasureRequest, sender_id: str) -> ErasureRequestView:
    return ErasureRequestView(
        id=request.id,
        clinic_id=request.clinic_id,
        sender_id=sender_id,
        requested_at=request.requested_at,
        requested_by=request.requested_by,
        status=request.status,
        resolved_at=request.resolved_at,
        resolved_by=request.resolved_by,
        note=request.note,
    )


def _find_patient(session: Session, sender_id: str, *, lock: bool = False) -> Patient | None:
    if not isinstance(sender_id, str) or not sender_id:
        return None
    query = select(Patient).where(Patient.sender_id == sender_id)
    if lock:  # PostgreSQL: serialises with other writers for this patient; SQLite ignores it
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def _erase_journal(session: Session, patient: Patient, at: datetime) -> dict[str, int]:
    """The entries, and the questions the care team wrote for the patient's reflections with
    the answers given to them (the receipt counts those when there were any)."""
    asked = session.execute(
        delete(CareTeamQuestion).where(CareTeamQuestion.patient_id == patient.id)
    )
    questions = int(asked.rowcount or 0)  # type: ignore[attr-defined]
    result = session.execute(delete(JournalEntry).where(JournalEntry.patient_id == patient.id))
    receipt = {"erased": int(result.rowcount or 0)}  # type: ignore[attr-defined]
    if questions:
        receipt["care_team_questions"] = questions
    return receipt


def _erase_risk_flags(session: Session, patient: Patient, at: datetime) -> dict[str, int]:
    """Delete the flags the care team knows of; keep the others without their message."""
    levels = session.scalar(select(Clinic.notify_levels).where(Clinic.id == patient.clinic_id))
    # Urgent flags are always announced (bot.clinics.notify), whatever the stored setting says.
    announced = {"urgent", *(levels or ())}
    unknown_to_care_team = and_(
        RiskFlag.notified_at.is_(None),
        RiskFlag.acknowledged_at.is_(None),
        RiskFlag.notify_attempts >= 0,
        RiskFlag.level.in_(sorted(announced)),
    )
    ids = list(
        session.scalars(
            select(RiskFlag.id).where(RiskFlag.patient_id == patient.id).with_for_update()
        )
    )
    kept = list(
        session.scalars(select(RiskFlag.id).where(RiskFlag.id.in_(ids), unknown_to_care_team))
    )
    notes = _erase_action_notes(session, ids, kept)
    if kept:
        session.execute(
            update(RiskFlag)
            .where(RiskFlag.id.in_(kept))
            .values(message="", latest_messages=None, coalesce_key=None, erased_at=at)
            .execution_options(synchronize_session=False)
        )
    result = session.execute(
        delete(RiskFlag)
        .where(RiskFlag.patient_id == patient.id, RiskFlag.id.not_in(kept))
        .execution_options(synchronize_session=False)
    )
    erased = int(result.rowcount or 0)  # type: ignore[attr-defined]
    receipt = {"erased": erased}
    if kept:
        receipt["kept_until_notified"] = len(kept)
    if notes:
        receipt["action_notes"] = notes
    return receipt


def _erase_action_notes(session: Session, ids: list[int], kept: list[int]) -> int:
    """Delete what staff recorded about the flags that go; keep the kept flags' actions
    (what was done, when, by whom) without their notes. How many notes there were.

    Explicit rather than left to ``ON DELETE CASCADE``, so that the receipt can count them
    and no note outlives its flag whatever the database's foreign-key settings.
    """
    if not ids:
        return 0
    notes = int(
        session.scalar(
            select(func.count(FlagAction.id)).where(
                FlagAction.flag_id.in_(ids), FlagAction.note.is_not(None)
            )
        )
        or 0
    )
    if kept:
        session.execute(
            update(FlagAction)
            .where(FlagAction.flag_id.in_(kept))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(FlagAction)
        .where(FlagAction.flag_id.in_(ids), FlagAction.flag_id.not_in(kept))
        .execution_options(synchronize_session=False)
    )
    return notes


def _erase_measures(session: Session, patient: Patient, at: datetime) -> int:
    """The patient's answers to validated measures (their schedules are the clinic's)."""
    result = session.execute(delete(MeasureResult).where(MeasureResult.patient_id == patient.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _erase_sessions(session: Session, patient: Patient, at: datetime) -> dict[str, int]:
    """The reminder opt-ins (contact details), the sessions the patient told in the chat, and
    every follow-up after a session (sessions staff recorded are the clinic's, and stay)."""
    subscriptions = session.execute(
        delete(ReminderSubscription).where(ReminderSubscription.patient_id == patient.id)
    )
    follow_ups = session.execute(
        delete(SessionFollowUp).where(SessionFollowUp.patient_id == patient.id)
    )
    told = session.execute(
        delete(RecordedSession).where(
            RecordedSession.patient_id == patient.id, RecordedSession.source == "patient"
        )
    )
    return {
        "erased": int(told.rowcount or 0),  # type: ignore[attr-defined]
        "reminder_subscriptions": int(subscriptions.rowcount or 0),  # type: ignore[attr-defined]
        "follow_ups": int(follow_ups.rowcount or 0),  # type: ignore[attr-defined]
    }


def _erase_events(session: Session, patient: Patient, at: datetime) -> int:
    """The tracker store's rows and the ``erased_at`` mark, together or not at all: the
    mark is what stops a turn in flight from writing the deleted rows back."""
    session.execute(update(Patient).where(Patient.id == patient.id).values(erased_at=at))
    if not events_exist(session):
        return 0
    result = session.execute(delete(EVENTS).where(EVENTS.c.sender_id == patient.sender_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


Step = Callable[[Session, Patient, datetime], "int | dict[str, int]"]


def _close_requests(actor: str) -> Callable[[Session, Patient, datetime], int]:
    def close(session: Session, patient: Patient, at: datetime) -> int:
        result = session.execute(
            update(ErasureRequest)
            .where(ErasureRequest.patient_id == patient.id, ErasureRequest.status == "open")
            .values(status="erased", resolved_at=at, resolved_by=actor)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    return close


def _run_store(name: str, sender_id: str, step: Step, at: datetime) -> dict[str, int | str]:
    """One store in its own transaction; a failure is reported, never raised."""
    try:
        with db.session_scope() as session:
            patient = _find_patient(session, sender_id, lock=True)
            if patient is None:  # deleted by someone else meanwhile: nothing left here
                return {"erased": 0}
            done = step(session, patient, at)
            return dict(done) if isinstance(done, dict) else {"erased": done}
    except Exception as error:  # noqa: BLE001 - the other stores must still be erased
        # The class only at warning level: a database's message can quote the statement.
        logger.warning("Erasing %s of a patient failed: %s", name, type(error).__name__)
        logger.debug("Erasing %s failed", name, exc_info=True)
        return {"failed": type(error).__name__}


def _checkpoint() -> None:
    """Copy the write-ahead log into the SQLite file and truncate it, so the pages that held
    the erased rows survive nowhere. Readers that are still open can keep it from finishing:
    then the old frames are overwritten as the log is reused, and a warning says so."""
    engine = db.get_engine()
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            cursor.close()
    finally:
        connection.close()
    if busy:
        logger.warning("After an erasure the write-ahead log could not be truncated yet (busy).")


# ----------------------------------------------------------------------------- erasure


def erase_patient(
    sender_id: str, actor: str, *, request_id: int | None = None, ip: str | None = None
) -> ErasureReceipt:
    """Erase everything the patient wrote or said; the receipt goes to the audit log.

    ``actor`` is who asked: a dashboard user's e-mail, ``"cli:<user>"`` or ``"patient"``.
    ``request_id`` names the erasure request this resolves (it must be this patient's);
    ``ip`` is where a dashboard user asked from, for the audit row.
    The patient row and their links stay (ids only; see the module's docstring), and
    :class:`UnknownPatient` is raised for a sender id no patient has.
    """
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patient = _find_patient(session, sender_id)
        if patient is None:
            raise UnknownPatient(sender_id)
        clinic_id = patient.clinic_id
        if request_id is not None:
            owner = session.scalar(
                select(ErasureRequest.patient_id).where(ErasureRequest.id == request_id)
            )
            if owner != patient.id:
                raise ValueError(f"erasure request {request_id} is not this patient's")
    at = utcnow()
    steps: dict[str, Step] = {
        "journal": _erase_journal,
        "risk_flags": _erase_risk_flags,
        "measures": _erase_measures,
        "sessions": _erase_sessions,
        "events": _erase_events,
    }
    stores = {name: _run_store(name, sender_id, step, at) for name, step in steps.items()}
    if all("erased" in result for result in stores.values()):
        stores["erasure_requests"] = _run_store(
            "erasure_requests", sender_id, _close_requests(actor), at
        )
    else:
        stores["erasure_requests"] = {"erased": 0}
    try:
        _checkpoint()
    except Exception:  # noqa: BLE001 - the rows are gone; the receipt must still be written
        logger.warning("Checkpointing the write-ahead log after an erasure failed", exc_info=True)
    receipt = ErasureReceipt(
        sender_id=sender_id,
        clinic_id=clinic_id,
        actor=actor,
        at=at,
        request_id=request_id,
        stores=stores,
    )
    audit.record(
        "erase_patient",
        actor=actor,
        clinic_id=clinic_id,
        target=sender_id,
        outcome="ok" if receipt.ok else "failed",
        ip=ip,
        detail=receipt.audit_detail(),
    )
    return receipt


def request_erasure(sender_id: str) -> ErasureOutcome:
    """The patient's "delete my data" from the chat.

    Erased at once (actor ``"patient"``), unless the clinic has ``erasure_review``: then one
    open :class:`ErasureRequest` is filed for staff (never a second while one is open).
    """
    db.ensure_schema()
    with db.session_scope() as session:
        patient = _find_patient(session, sender_id, lock=True)
        if patient is None:
            return ErasureOutcome("unknown")
        clinic = session.get(Clinic, patient.clinic_id)
        if clinic is None or not clinic.erasure_review:
            review = False
        else:
            review = True
            existing = session.scalars(
                select(ErasureRequest)
                .where(ErasureRequest.patient_id == patient.id, ErasureRequest.status == "open")
                .order_by(ErasureRequest.id)
                .limit(1)
            ).first()
            if existing is not None:
                return ErasureOutcome("already_requested", request=_view(existing, sender_id))
            request = ErasureRequest(
                clinic_id=patient.clinic_id,
                patient_id=patient.id,
                requested_at=utcnow(),
                requested_by=PATIENT,
                status="open",
            )
            session.add(request)
            session.flush()
            view = _view(request, sender_id)
    if not review:
        return ErasureOutcome("erased", receipt=erase_patient(sender_id, PATIENT))
    audit.record(
        "erasure_requested",
        actor=PATIENT,
        clinic_id=view.clinic_id,
        target=sender_id,
        detail={"request_id": view.id},
    )
    return ErasureOutcome("requested", request=view)


# ----------------------------------------------------------------------------- requests


def _request_query(clinic_id: int) -> Any:
    return (
        select(ErasureRequest, Patient.sender_id)
        .join(Patient, Patient.id == ErasureRequest.patient_id)
        .where(ErasureRequest.clinic_id == clinic_id, Patient.clinic_id == clinic_id)
    )


def list_requests(clinic_id: int) -> tuple[list[ErasureRequestView], list[ErasureRequestView]]:
    """The clinic's open requests (oldest first: the longest waiting on top) and its latest
    resolved ones (newest first)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        open_rows = session.execute(
            _request_query(clinic_id)
            .where(ErasureRequest.status == "open")
            .order_by(ErasureRequest.requested_at, ErasureRequest.id)
        ).all()
        resolved_rows = session.execute(
            _request_query(clinic_id)
            .where(ErasureRequest.status != "open")
            .order_by(ErasureRequest.resolved_at.desc(), ErasureRequest.id.desc())
            .limit(RESOLVED_LIMIT)
        ).all()
        return (
            [_view(request, sender_id) for request, sender_id in open_rows],
            [_view(request, sender_id) for request, sender_id in resolved_rows],
        )


def request_of(clinic_id: int, request_id: int) -> ErasureRequestView | None:
    """The clinic's request with this id; ``None`` for another clinic's, exactly like for
    one that does not exist."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        row = session.execute(
            _request_query(clinic_id).where(ErasureRequest.id == request_id)
        ).one_or_none()
        return _view(*row) if row is not None else None


def open_request_for(patient_id: int) -> ErasureRequestView | None:
    """The patient's open request, if any (the banner on their dashboard page)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        row = session.execute(
            select(ErasureRequest, Patient.sender_id)
            .join(Patient, Patient.id == ErasureRequest.patient_id)
            .where(ErasureRequest.patient_id == patient_id, ErasureRequest.status == "open")
            .order_by(ErasureRequest.id)
            .limit(1)
        ).first()
        return _view(*row) if row is not None else None


def patient_erased_at(patient_id: int) -> datetime | None:
    """When the patient's data was last erased, if ever."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        return session.scalar(select(Patient.erased_at).where(Patient.id == patient_id))


def check_note(note: str) -> str:
    """A decline's reason: required, because the clinic owes the patient one."""
    text = (note or "").strip()
    if not text:
        raise ValueError("Say why the request is declined: the patient is owed a reason.")
    if len(text) > MAX_NOTE:
        raise ValueError(f"The reason must be at most {MAX_NOTE} characters long.")
    return text


def decline_request(
    clinic_id: int, request_id: int, *, by: str, note: str, ip: str | None = None
) -> ErasureRequestView:
    """Decline an open request of the clinic with a reason (audited ``decline_erasure``).

    :class:`ValueError` for a missing reason, :class:`AlreadyResolved` for a request that is
    not open any more, :class:`LookupError` for a request that is not the clinic's.
    """
    reason = check_note(note)
    db.ensure_schema()
    with db.session_scope() as session:
        row = session.execute(
            _request_query(clinic_id).where(ErasureRequest.id == request_id)
        ).one_or_none()
        if row is None:
            raise LookupError(request_id)
        request, sender_id = row
        if request.status != "open":
            raise AlreadyResolved(request_id)
        request.status = "declined"
        request.resolved_at = utcnow()
        request.resolved_by = by
        request.note = reason
        session.flush()
        view = _view(request, sender_id)
    audit.record(
        "decline_erasure",
        actor=by,
        clinic_id=clinic_id,
        target=sender_id,
        ip=ip,
        detail={"request_id": request_id},
    )
    return view
