"""Patients' identities: personal links from the clinic, anonymous demo sessions, revocation.

A patient is created when the clinic invites them, with a random sender id that means
nothing outside this database; the link they receive carries a signed token for that id
(see :mod:`bot.patient_tokens`). The token sits in the URL's fragment (``#companion-token=…``),
which browsers never send to a server, so it does not end up in the clinic's web logs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import settings
from bot.patient_tokens import AccessDenied, issue_token, normalize_origin
from bot.storage import db
from bot.storage.models import Clinic, Patient, PatientLink, utcnow

TOKEN_FRAGMENT = "companion-token"
DEFAULT_INVITE_LIFETIME = timedelta(days=30)
MAX_INVITE_LIFETIME = timedelta(days=366)
#: An anonymous demo chat lasts as long as a visit, not longer.
ANONYMOUS_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Invite:
    """A personal link to give to a patient (shown once; only the token's id is stored)."""

    sender_id: str
    clinic: str
    link_id: str
    token: str
    url: str
    expires_at: datetime


def new_sender_id() -> str:
    return "p-" + secrets.token_urlsafe(18)


def _clinic(session: Session, slug: str) -> Clinic:
    clinic = session.scalars(select(Clinic).where(Clinic.slug == slug)).one_or_none()
    if clinic is None:
        if slug == settings.demo_clinic_slug():
            from bot.clinics.registry import demo_clinic

            return demo_clinic(session)
        raise AccessDenied("unknown_clinic")
    return clinic


def _new_link(
    session: Session, clinic: Clinic, kind: str, lifetime: timedelta
) -> tuple[str, str, datetime, str]:
    """A new patient with one link: (sender id, link id, expiry, signed token)."""
    now = utcnow()
    patient = Patient(sender_id=new_sender_id(), clinic=clinic, created_at=now, last_seen_at=now)
    expires_at = (now + lifetime).replace(microsecond=0)
    link = PatientLink(
        id=secrets.token_hex(16), patient=patient, kind=kind, created_at=now, expires_at=expires_at
    )
    session.add_all([patient, link])
    session.flush()
    token = issue_token(
        sender_id=patient.sender_id,
        clinic=clinic.slug,
        jti=link.id,
        kind=kind,
        expires_at=expires_at,
    )
    return patient.sender_id, link.id, expires_at, token


def _normalized(origin: str | None) -> str | None:
    try:
        return normalize_origin(origin) if origin else None
    except ValueError:
        return None


def _link_page(clinic: Clinic) -> str:
    if clinic.patient_url:
        return clinic.patient_url
    if clinic.slug == settings.demo_clinic_slug() or not clinic.origins:
        return settings.public_web_url() + "/"
    return clinic.origins[0] + "/"


def invite(clinic_slug: str, expires_in: timedelta = DEFAULT_INVITE_LIFETIME) -> Invite:
    """A new patient of the clinic and their personal link; ``AccessDenied`` for no such clinic."""
    if not timedelta(minutes=1) <= expires_in <= MAX_INVITE_LIFETIME:
        raise ValueError("a link must last between one minute and one year")
    db.ensure_schema()
    with db.session_scope() as session:
        clinic = _clinic(session, clinic_slug)
        sender_id, link_id, expires_at, token = _new_link(session, clinic, "invite", expires_in)
        page = _link_page(clinic)
    return Invite(
        sender_id=sender_id,
        clinic=clinic_slug,
        link_id=link_id,
        token=token,
        url=f"{page}#{TOKEN_FRAGMENT}={token}",
        expires_at=expires_at,
    )


def start_anonymous(clinic_slug: str, origin: str | None) -> tuple[str, datetime]:
    """A token for a visitor without a link, where the clinic allows that (the demo clinic)."""
    db.ensure_schema()
    with db.session_scope() as session:
        clinic = _clinic(session, clinic_slug)
        if not clinic.allow_anonymous:
            raise AccessDenied("anonymous_not_allowed")
        if _normalized(origin) not in (clinic.origins or []):
            raise AccessDenied("origin_not_allowed")
        _, _, expires_at, token = _new_link(session, clinic, "anonymous", ANONYMOUS_LIFETIME)
    return token, expires_at


def revoke(*, sender_id: str | None = None, link_id: str | None = None) -> int:
    """Switch off one link, or every link of a patient; returns how many were switched off."""
    if (sender_id is None) == (link_id is None):
        raise ValueError("give exactly one of sender_id and link_id")
    db.ensure_schema()
    with db.session_scope() as session:
        query = update(PatientLink).where(PatientLink.revoked_at.is_(None))
        if link_id is not None:
            query = query.where(PatientLink.id == link_id)
        else:
            patient_ids = select(Patient.id).where(Patient.sender_id == sender_id)
            query = query.where(PatientLink.patient_id.in_(patient_ids))
        result = session.execute(query.values(revoked_at=utcnow()))
        return int(result.rowcount or 0)
