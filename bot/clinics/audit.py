"""The audit log: who looked at or changed what, when, from where, and whether it was allowed.

Every sign-in, patient page view, export, flag acknowledgement and refused access of the
therapists' dashboard is one row of ``audit_log``, which the database keeps append-only
(triggers of migration 0003 refuse UPDATE and DELETE).

:func:`record` writes in its own short transaction and raises if it cannot: an access that
cannot be audited must not happen, so callers record *before* they return any data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.storage import db
from bot.storage.models import AuditEvent, utcnow

#: Every action name the application records (anything else is a programming error).
ACTIONS: tuple[str, ...] = (
    "login",
    "logout",
    "session_expired",
    "view_patients",
    "view_patient",
    "export",
    "acknowledge_flag",
    "undo_acknowledgement",
    "follow_up_done",
    "access_denied",
    "view_audit",
    "erase_patient",
    "erasure_requested",
    "decline_erasure",
    "view_erasure_requests",
    "patient_export",
    "purge",
    "view_staff",
    "disable_therapist",
    "enable_therapist",
    "end_sessions",
    "set_password",
    "invite_patient",
    "reissue_link",
    "revoke_link",
    "update_patient",
    "schedule_measure",
    "cancel_measure",
    "referrals_report",
    "assign_prompt",
    "withdraw_prompt",
    "record_session",
    "delete_session",
)
OUTCOMES: tuple[str, ...] = ("ok", "denied", "failed")
#: Column sizes of ``audit_log``; longer values (a pasted essay as "e-mail") are cut, not refused,
#: because refusing would make the attempt itself unauditable.
_ACTOR_MAX = 320
_TARGET_MAX = 255
_IP_MAX = 64
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class AuditView:
    """One audit row, detached from the database session."""

    id: int
    at: datetime
    clinic_id: int | None
    actor: str
    action: str
    target: str | None
    outcome: str
    ip: str | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "clinic_id": self.clinic_id,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "ip": self.ip,
            "detail": dict(self.detail),
        }


def parse_moment(text: str, *, end: bool = False) -> datetime:
    """A filter bound typed as ``2026-11-27`` or ``2026-11-27T14:00`` (UTC unless it says).

    A bare date as the end of a range means the whole of that day. ``ValueError`` otherwise.
    """
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


def record(
    action: str,
    *,
    actor: str,
    clinic_id: int | None,
    target: str | None = None,
    outcome: str = "ok",
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one row; raises (database errors included) rather than losing it.

    Must not be called while the same thread holds a write transaction on SQLite: this
    opens its own, which would wait for the other one.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    db.ensure_schema()
    with db.session_scope() as session:
        session.add(
            AuditEvent(
                at=utcnow(),
                clinic_id=clinic_id,
                actor=_cut(actor, _ACTOR_MAX) or "",
                action=action,
                target=_cut(target, _TARGET_MAX),
                outcome=outcome,
                ip=_cut(ip, _IP_MAX),
                detail=dict(detail or {}),
            )
        )


def query(
    clinic_id: int,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[AuditView]:
    """One clinic's rows, newest first; ``actor`` matches case-insensitively and exactly,
    ``since`` is inclusive and ``until`` exclusive."""
    db.ensure_schema()
    statement = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if actor:
        statement = statement.where(func.lower(AuditEvent.actor) == actor.strip().lower())
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.at < until)
    statement = statement.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    with db.session_scope(write=False) as session:
        return [
            AuditView(
                id=row.id,
                at=row.at,
                clinic_id=row.clinic_id,
                actor=row.actor,
                action=row.action,
                target=row.target,
                outcome=row.outcome,
                ip=row.ip,
                detail=dict(row.detail or {}),
            )
            for row in session.scalars(statement)
        ]
