"""The session calendar: each patient's ketamine sessions, and the days that follow them.

Staff record a session on the patient page; the patient's own "I had my session yesterday"
(the reflection's session date) records one too, as patient-reported. One per patient and
day: whoever tells it first records it, and telling it again changes nothing. Staff can
delete a wrong one. Both changes are audited (``record_session``, ``delete_session``).

What is counted from a session, in the clinic's time zone (``clinics.timezone``, UTC
unless set): it starts at its time, or at the start of its day when no time was given.

- The *integration window*: the 72 hours after it starts. While no reflection names that
  day as its session date, the greeting offers the reflection first.
- The *day marks* 1, 3 and 7: mark ``d`` is open for the 24 hours from ``d`` days after the
  start. A short check-in is offered in the chat once per mark (recorded as a chat
  :class:`SessionFollowUp`), and a patient who opted in gets one reminder per mark
  (:mod:`bot.clinics.reminders`). Only the latest session that has started counts: a newer
  session takes over from an older one.

:func:`recorded_sessions` and :func:`last_session_before` are what other features read
("since the last session").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clinics import audit
from bot.content import FOLDER, load_mapping
from bot.journal.replies import long_date
from bot.storage import db
from bot.storage.models import (
    DEFAULT_TIMEZONE,
    SESSION_SOURCES,
    Clinic,
    JournalEntry,
    Patient,
    RecordedSession,
    SessionFollowUp,
    utcnow,
)

logger = logging.getLogger(__name__)

#: How long after a session the greeting offers to reflect on it.
INTEGRATION_WINDOW = timedelta(hours=72)
#: The days after a session at which a short check-in is offered (and reminded of).
MARKS: tuple[int, ...] = (1, 3, 7)
#: How long a day mark stays open.
MARK_WINDOW = timedelta(days=1)
#: The actor of the audit rows of sessions the patient told in the chat.
PATIENT = "patient"
#: A session further back than this, or further ahead, is refused as a mistake.
MAX_DAYS_BACK = 365
MAX_DAYS_AHEAD = 366
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class SessionView:
    """A recorded session, as the patient page and the chat read it."""

    id: int
    session_on: date
    session_time: str | None
    source: str
    recorded_by: str
    created_at: datetime

    def starts_at(self, zone: ZoneInfo) -> datetime:
        """When the session starts (UTC): its time in the clinic's zone, or its day's start."""
        at = time.fromisoformat(self.session_time) if self.session_time else time(0, 0)
        return datetime.combine(self.session_on, at, tzinfo=zone).astimezone(UTC)

    def as_export(self) -> dict[str, str | None]:
        """The patient's copy of their data (who recorded it: the care team or the patient)."""
        return {
            "session_on": self.session_on.isoformat(),
            "session_time": self.session_time,
            "recorded_by": "patient" if self.source == "patient" else "care team",
        }


@dataclass(frozen=True)
class Offer:
    """What the greeting offers after a session: the reflection, or a check-in at a mark."""

    kind: str
    session: SessionView
    #: Days since the session's day, in the clinic's time zone (0: today).
    days_ago: int
    mark: int | None = None


def _view(row: RecordedSession) -> SessionView:
    return SessionView(
        id=row.id,
        session_on=row.session_on,
        session_time=row.session_time,
        source=row.source,
        recorded_by=row.recorded_by,
        created_at=row.created_at,
    )


def zone_of(name: str | None) -> ZoneInfo:
    """A clinic's time zone; an unknown name counts as UTC rather than failing a greeting."""
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("Unknown clinic time zone %r: UTC is used", name)
        return ZoneInfo("UTC")


def check_time(value: str | None) -> str | None:
    """A session time as ``HH:MM`` (24 hours), or ``None``; ``ValueError`` otherwise."""
    if value is None or not value.strip():
        return None
    if not _TIME.fullmatch(value.strip()):
        raise ValueError("Give the time as HH:MM (24 hours), or leave it empty.")
    return value.strip()


def _patient(session: Session, sender_id: str, clinic_id: int | None = None) -> Patient | None:
    query = select(Patient).where(Patient.sender_id == sender_id)
    if clinic_id is not None:
        query = query.where(Patient.clinic_id == clinic_id)
    return session.scalars(query).one_or_none()


def _rows(session: Session, patient_id: int) -> list[SessionView]:
    rows = session.scalars(
        select(RecordedSession)
        .where(RecordedSession.patient_id == patient_id)
        .order_by(RecordedSession.session_on.desc(), RecordedSession.id.desc())
    )
    return [_view(row) for row in rows]


def record_session(
    sender_id: str,
    day: date,
    *,
    by: str,
    source: str,
    at_time: str | None = None,
    clinic_id: int | None = None,
    today: date | None = None,
) -> tuple[SessionView, bool] | None:
    """Record a session of the patient (of ``clinic_id``'s, when given): the session and
    whether it is new. ``None`` for no such patient; an existing session of that day is
    returned unchanged. ``ValueError`` for an unknown source, a bad time, or a day more than
    a year away (a typing mistake, not a session)."""
    if source not in SESSION_SOURCES:
        raise ValueError(f"Unknown source {source!r}.")
    at_time = check_time(at_time)
    today = today or utcnow().date()
    if not today - timedelta(days=MAX_DAYS_BACK) <= day <= today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValueError("A session day is within a year of today.")
    db.ensure_schema()
    for _ in range(2):  # a second writer of the same day loses the insert, then reads it
        try:
            with db.session_scope() as session:
                patient = _patient(session, sender_id, clinic_id)
                if patient is None:
                    return None
                existing = session.scalars(
                    select(RecordedSession).where(
                        RecordedSession.patient_id == patient.id,
                        RecordedSession.session_on == day,
                    )
                ).one_or_none()
                if existing is not None:
                    return _view(existing), False
                row = RecordedSession(
                    patient_id=patient.id,
                    session_on=day,
                    session_time=at_time,
                    source=source,
                    recorded_by=by,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                view, patient_clinic = _view(row), patient.clinic_id
        except IntegrityError:
            continue
        if source == "patient":
            audit.record(
                "record_session",
                actor=PATIENT,
                clinic_id=patient_clinic,
                target=sender_id,
                detail={"session_on": day.isoformat(), "source": source},
            )
        return view, True
    raise RuntimeError("the session could neither be recorded nor read")


def record_patient_session(sender_id: str, day: date) -> bool:
    """The patient told a session's day in the chat: record it unless that day is recorded
    already. True if it was new."""
    made = record_session(sender_id, day, by=PATIENT, source="patient")
    return bool(made and made[1])


def delete_session(clinic_id: int, sender_id: str, session_id: int) -> SessionView | None:
    """Delete a wrong session of a patient of this clinic (its follow-ups go with it);
    ``None`` if there is no such session of theirs."""
    db.ensure_schema()
    with db.session_scope() as session:
        patient = _patient(session, sender_id, clinic_id)
        if patient is None:
            return None
        row = session.scalars(
            select(RecordedSession).where(
                RecordedSession.id == session_id, RecordedSession.patient_id == patient.id
            )
        ).one_or_none()
        if row is None:
            return None
        view = _view(row)
        session.delete(row)
        return view


def recorded_sessions(sender_id: str) -> list[SessionView]:
    """A patient's sessions, the latest day first (empty for an unknown patient)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patient = _patient(session, sender_id)
        return [] if patient is None else _rows(session, patient.id)


def clinic_zone(sender_id: str) -> ZoneInfo:
    """The time zone of the patient's clinic (UTC for an unknown patient)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        name = session.scalar(
            select(Clinic.timezone)
            .join(Patient, Patient.clinic_id == Clinic.id)
            .where(Patient.sender_id == sender_id)
        )
    return zone_of(name)


def latest_started(
    sessions: list[SessionView], zone: ZoneInfo, now: datetime
) -> SessionView | None:
    """The session that started last, at or before ``now``."""
    started = [view for view in sessions if view.starts_at(zone) <= now]
    return max(started, key=lambda view: view.starts_at(zone)) if started else None


def last_session_before(sender_id: str, moment: datetime | None = None) -> SessionView | None:
    """The patient's latest session that started before ``moment`` (default: now)."""
    moment = moment or utcnow()
    zone = clinic_zone(sender_id)
    earlier = [view for view in recorded_sessions(sender_id) if view.starts_at(zone) < moment]
    return max(earlier, key=lambda view: view.starts_at(zone)) if earlier else None


def open_mark(start: datetime, now: datetime) -> int | None:
    """The day mark open at ``now`` for a session that started at ``start``, if any."""
    for mark in MARKS:
        opens = start + timedelta(days=mark)
        if opens <= now < opens + MARK_WINDOW:
            return mark
    return None


def in_integration_window(start: datetime, now: datetime) -> bool:
    """Whether ``now`` is within the 72 hours from the session's start (0 h in, 72 h out)."""
    return start <= now < start + INTEGRATION_WINDOW


def _reflected(session: Session, patient_id: int, day: date) -> bool:
    return (
        session.scalar(
            select(JournalEntry.id)
            .where(
                JournalEntry.patient_id == patient_id,
                JournalEntry.kind == "integration",
                JournalEntry.session_date == day,
            )
            .limit(1)
        )
        is not None
    )


def _followed_up(session: Session, session_id: int, mark: int, channel: str) -> bool:
    return (
        session.scalar(
            select(SessionFollowUp.id).where(
                SessionFollowUp.session_id == session_id,
                SessionFollowUp.mark == mark,
                SessionFollowUp.channel == channel,
            )
        )
        is not None
    )


def greeting_offer(sender_id: str, now: datetime | None = None) -> Offer | None:
    """What the greeting should offer after the patient's latest session, if anything.

    The reflection while the session is in its integration window and not reflected on;
    otherwise a check-in at an open day mark not yet offered in the chat. The check-in offer
    is recorded by :func:`note_offered`, so that each mark is offered once.
    """
    now = now or utcnow()
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patient = _patient(session, sender_id)
        if patient is None:
            return None
        clinic = session.get(Clinic, patient.clinic_id)
        zone = zone_of(clinic.timezone if clinic else None)
        latest = latest_started(_rows(session, patient.id), zone, now)
        if latest is None:
            return None
        start = latest.starts_at(zone)
        days_ago = (now.astimezone(zone).date() - latest.session_on).days
        if in_integration_window(start, now) and not _reflected(
            session, patient.id, latest.session_on
        ):
            return Offer("reflection", latest, days_ago)
        mark = open_mark(start, now)
        if mark is not None and not _followed_up(session, latest.id, mark, "chat"):
            return Offer("checkin", latest, days_ago, mark)
    return None


def note_offered(sender_id: str, offer: Offer) -> bool:
    """Record that the chat offered the check-in at ``offer``'s mark; False if it already had
    (another greeting got there first)."""
    if offer.mark is None:
        return False
    try:
        with db.session_scope() as session:
            patient = _patient(session, sender_id)
            if patient is None:
                return False
            now = utcnow()
            session.add(
                SessionFollowUp(
                    session_id=offer.session.id,
                    patient_id=patient.id,
                    mark=offer.mark,
                    channel="chat",
                    created_at=now,
                    sent_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def session_when(offer: Offer) -> str:
    """The session's day as the offer to reflect says it: today, yesterday, on a date."""
    words = load_mapping(FOLDER / "reminders.yml")["session_when"]
    if offer.days_ago <= 0:
        return str(words["today"])
    if offer.days_ago == 1:
        return str(words["yesterday"])
    return str(words["earlier"]).format(date=long_date(offer.session.session_on))
