"""A patient's consent history as the dashboard and the patient's own copy show it.

The rows are :class:`bot.storage.models.PatientConsent` (written by :mod:`bot.patient_consent`):
one per "I agree", with the version of the clinic's text and when, and when it was withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.storage import db
from bot.storage.models import Patient, PatientConsent


@dataclass(frozen=True)
class ConsentView:
    """One agreement to a version of the clinic's consent text."""

    version: int
    agreed_at: datetime
    withdrawn_at: datetime | None

    def as_export(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "agreed_at": self.agreed_at.isoformat(),
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
        }


def history(sender_id: str) -> list[ConsentView]:
    """The patient's agreements, oldest first (empty for a patient who never agreed)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        rows = session.scalars(
            select(PatientConsent)
            .join(Patient, Patient.id == PatientConsent.patient_id)
            .where(Patient.sender_id == sender_id)
            .order_by(PatientConsent.id)
        ).all()
        return [ConsentView(row.version, row.agreed_at, row.withdrawn_at) for row in rows]


def latest(sender_id: str) -> ConsentView | None:
    """The agreement that decides whether anything is kept now, if there is one."""
    found = history(sender_id)
    return found[-1] if found else None
