"""Retention: conversations older than a clinic's ``retention_days`` are deleted.

Only Rasa's tracker store (``events``) is purged: the journal is what the patient chose to
keep, and risk flags are the clinic's treatment record; both go only by erasure.

A sender's *current* conversation session is never touched, however old: Rasa reads the
events at or after the sender's latest ``session_started`` (all events if there is none)
and, when it saves a turn, counts those rows to know which events are new. Deleting rows
inside that session would make it write old events back as if they were new. So a row is
deleted only if it is older than the cut-off *and* older than its sender's latest
``session_started``; a sender without any ``session_started`` keeps everything.

Each clinic is purged in its own transaction and gets one ``purge`` receipt in the audit
log (a dry run deletes nothing and records nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from bot.clinics import audit
from bot.storage import db
from bot.storage.models import Clinic, Patient, utcnow
from bot.storage.rasa_events import EVENTS, events_exist

__all__ = ["PurgeResult", "purge"]

_SESSION_STARTED = "session_started"


@dataclass(frozen=True)
class PurgeResult:
    """What one clinic's purge deleted (or, in a dry run, would delete)."""

    clinic_slug: str
    clinic_id: int
    retention_days: int
    cutoff: datetime
    events: int
    dry_run: bool

    def audit_detail(self) -> dict[str, Any]:
        return {
            "retention_days": self.retention_days,
            "cutoff": self.cutoff.isoformat(),
            "events": self.events,
        }


def _condition(clinic_id: int, cutoff: datetime) -> Any:
    """Rows of the clinic's patients older than ``cutoff`` and before their sender's latest
    ``session_started``."""
    session_start = EVENTS.alias("session_start")
    latest_start = (
        select(func.max(session_start.c.timestamp))
        .where(
            session_start.c.sender_id == EVENTS.c.sender_id,
            session_start.c.type_name == _SESSION_STARTED,
        )
        .scalar_subquery()
    )
    patients = select(Patient.sender_id).where(Patient.clinic_id == clinic_id)
    return and_(
        EVENTS.c.sender_id.in_(patients),
        EVENTS.c.timestamp < cutoff.timestamp(),
        EVENTS.c.timestamp < latest_start,
    )


def _purge_clinic(session: Session, clinic: Clinic, now: datetime, dry_run: bool) -> PurgeResult:
    days = int(clinic.retention_days or 0)
    cutoff = now - timedelta(days=days)
    condition = _condition(clinic.id, cutoff)
    if dry_run:
        count = session.scalar(select(func.count()).select_from(EVENTS).where(condition)) or 0
    else:
        result = session.execute(delete(EVENTS).where(condition))
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return PurgeResult(
        clinic_slug=clinic.slug,
        clinic_id=clinic.id,
        retention_days=days,
        cutoff=cutoff,
        events=int(count),
        dry_run=dry_run,
    )


def purge(
    *,
    clinic_slug: str | None = None,
    dry_run: bool = False,
    actor: str = "system",
    now: datetime | None = None,
) -> list[PurgeResult]:
    """Purge every clinic with a retention period (or only ``clinic_slug``).

    ``LookupError`` for an unknown ``clinic_slug``. A clinic without ``retention_days`` is
    skipped: it has chosen to keep conversations until they are erased.
    """
    db.ensure_schema()
    moment = now or utcnow()
    with db.session_scope(write=False) as session:
        query = select(Clinic.id).order_by(Clinic.slug)
        if clinic_slug is not None:
            query = query.where(Clinic.slug == clinic_slug)
        clinic_ids = list(session.scalars(query))
        has_events = events_exist(session)
    if clinic_slug is not None and not clinic_ids:
        raise LookupError(clinic_slug)
    results: list[PurgeResult] = []
    for clinic_id in clinic_ids:
        with db.session_scope(write=not dry_run) as session:
            clinic = session.get(Clinic, clinic_id)
            if clinic is None or not clinic.retention_days:
                continue
            if has_events:
                result = _purge_clinic(session, clinic, moment, dry_run)
            else:
                days = int(clinic.retention_days)
                result = PurgeResult(
                    clinic.slug, clinic.id, days, moment - timedelta(days=days), 0, dry_run
                )
        if not dry_run:
            audit.record(
                "purge",
                actor=actor,
                clinic_id=result.clinic_id,
                detail=result.audit_detail(),
            )
        results.append(result)
    return results
