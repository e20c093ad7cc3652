"""Patients' identities: personal links from the clinic, anonymous demo sessions, revocation.

A patient is created when the clinic invites them, with a random sender id that means
nothing outside this database; the link they receive carries a signed token for that id
(see :mod:`bot.patient_tokens`). The token sits in the URL's fragment (``#companion-token=…``),
which browsers never send to a server, so it does not end up in the clinic's web logs.

Staff recognise a patient by the clinic's own label for them (initials and a chart number,
say), sealed at rest like patient text, and by the therapist they are assigned to. A link is
shown once, when it is made; afterwards staff see its status (:func:`link_status`) and can
issue a new one, which switches off the patient's earlier invitations.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import settings
from bot.patient_tokens import AccessDenied, issue_token, normalize_origin
from bot.storage import db
from bot.storage.models import Clinic, Patient, PatientLink, Therapist, utcnow

TOKEN_FRAGMENT = "companion-token"
DEFAULT_INVITE_LIFETIME = timedelta(days=30)
MAX_INVITE_LIFETIME = timedelta(days=366)
#: An anonymous demo chat lasts as long as a visit, not longer.
ANONYMOUS_LIFETIME = timedelta(hours=12)
#: How long a new link works, as the dashboard offers it (days); the CLI takes any duration.
LINK_LIFETIME_DAYS: tuple[int, ...] = (7, 14, 30, 60, 90)
#: A label is a short name for a list, not a note.
MAX_LABEL = 80
#: A link's status as staff see it, in the order a link goes through them.
LINK_STATUSES = ("unused", "active", "expired", "revoked")


class InviteError(ValueError):
    """An invitation that cannot be made as asked; the message says why, for staff."""


@dataclass(frozen=True)
class Invite:
    """A personal link to give to a patient (shown once; only the token's id is stored)."""

    sender_id: str
    clinic: str
    link_id: str
    token: str
    url: str
    expires_at: datetime
    label: str | None = None
    therapist: str | None = None


@dataclass(frozen=True)
class LinkView:
    """A patient's link as staff see it: never the token, only its id, times and status."""

    id: str
    kind: str
    created_at: datetime
    expires_at: datetime
    first_used_at: datetime | None
    revoked_at: datetime | None
    status: str


def link_status(
    *,
    expires_at: datetime,
    revoked_at: datetime | None,
    first_used_at: datetime | None,
    now: datetime,
) -> str:
    """``revoked`` over ``expired`` over ``active`` (it has opened a chat) over ``unused``."""
    if revoked_at is not None:
        return "revoked"
    if expires_at <= now:
        return "expired"
    return "active" if first_used_at is not None else "unused"


def check_label(label: str | None) -> str | None:
    """A label as stored: trimmed, inner whitespace collapsed, ``None`` when empty.

    Control characters and over-long labels are refused (``InviteError``) rather than cut,
    so that what staff typed is what they will find.
    """
    if label is None:
        return None
    cleaned = " ".join(unicodedata.normalize("NFC", label).split())
    if not cleaned:
        return None
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"} for char in cleaned):
        raise InviteError("A label cannot contain control characters.")
    if len(cleaned) > MAX_LABEL:
        raise InviteError(f"A label can be at most {MAX_LABEL} characters long.")
    return cleaned


def _therapist(session: Session, clinic: Clinic, email: str | None) -> Therapist | None:
    """The clinic's therapist with this address; ``InviteError`` for anyone else."""
    if not email:
        return None
    therapist = session.scalars(
        select(Therapist).where(Therapist.email == email.strip().lower())
    ).one_or_none()
    if therapist is None or therapist.clinic_id != clinic.id:
        raise InviteError(f"{email.strip()} is not a therapist of this clinic.")
    if therapist.disabled_at is not None:
        raise InviteError(f"{email.strip()}'s account is disabled.")
    return therapist


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
    session: Session,
    clinic: Clinic,
    kind: str,
    lifetime: timedelta,
    patient: Patient | None = None,
) -> tuple[str, str, datetime, str]:
    """A new link, for a new patient unless one is given: (sender id, link id, expiry, token)."""
    now = utcnow()
    if patient is None:
        patient = Patient(
            sender_id=new_sender_id(), clinic=clinic, created_at=now, last_seen_at=now
        )
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


def _clinic_patient(session: Session, clinic_id: int, sender_id: str) -> Patient | None:
    return session.scalars(
        select(Patient).where(Patient.sender_id == sender_id, Patient.clinic_id == clinic_id)
    ).one_or_none()


def _check_lifetime(expires_in: timedelta) -> None:
    if not timedelta(minutes=1) <= expires_in <= MAX_INVITE_LIFETIME:
        raise InviteError("A link must last between one minute and one year.")


def _invite(
    clinic: Clinic, patient: Patient, link: tuple[str, str, datetime, str], page: str
) -> Invite:
    sender_id, link_id, expires_at, token = link
    return Invite(
        sender_id=sender_id,
        clinic=clinic.slug,
        link_id=link_id,
        token=token,
        url=f"{page}#{TOKEN_FRAGMENT}={token}",
        expires_at=expires_at,
        label=patient.label,
        therapist=patient.therapist.email if patient.therapist else None,
    )


def invite(
    clinic_slug: str,
    expires_in: timedelta = DEFAULT_INVITE_LIFETIME,
    *,
    label: str | None = None,
    therapist: str | None = None,
) -> Invite:
    """A new patient of the clinic and their personal link.

    ``label`` is the clinic's name for the patient, ``therapist`` the address of the
    therapist they are assigned to (of the same clinic). ``AccessDenied`` for no such clinic,
    ``InviteError`` for a label, therapist or lifetime that cannot be used.
    """
    _check_lifetime(expires_in)
    label = check_label(label)
    db.ensure_schema()
    with db.session_scope() as session:
        clinic = _clinic(session, clinic_slug)
        assigned = _therapist(session, clinic, therapist)
        link = _new_link(session, clinic, "invite", expires_in)
        patient = session.scalars(select(Patient).where(Patient.sender_id == link[0])).one()
        patient.label = label
        patient.therapist = assigned
        session.flush()
        return _invite(clinic, patient, link, _link_page(clinic))


def reissue(
    clinic_id: int, sender_id: str, expires_in: timedelta = DEFAULT_INVITE_LIFETIME
) -> Invite | None:
    """A new personal link for a patient of this clinic (``None`` for anyone else).

    The patient's earlier invitations that are still on are switched off: a new link is
    issued because the old one was lost, forwarded or shown to the wrong person.
    """
    _check_lifetime(expires_in)
    db.ensure_schema()
    with db.session_scope() as session:
        patient = _clinic_patient(session, clinic_id, sender_id)
        if patient is None:
            return None
        session.execute(
            update(PatientLink)
            .where(
                PatientLink.patient_id == patient.id,
                PatientLink.kind == "invite",
                PatientLink.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
        link = _new_link(session, patient.clinic, "invite", expires_in, patient)
        return _invite(patient.clinic, patient, link, _link_page(patient.clinic))


def links(clinic_id: int, sender_id: str) -> list[LinkView] | None:
    """A patient's links, newest first (``None`` for a patient not of this clinic)."""
    db.ensure_schema()
    now = utcnow()
    with db.session_scope(write=False) as session:
        patient_id = session.scalar(
            select(Patient.id).where(Patient.sender_id == sender_id, Patient.clinic_id == clinic_id)
        )
        if patient_id is None:
            return None
        rows = session.scalars(
            select(PatientLink)
            .where(PatientLink.patient_id == patient_id)
            .order_by(PatientLink.created_at.desc(), PatientLink.id)
        )
        return [
            LinkView(
                id=row.id,
                kind=row.kind,
                created_at=row.created_at,
                expires_at=row.expires_at,
                first_used_at=row.first_used_at,
                revoked_at=row.revoked_at,
                status=link_status(
                    expires_at=row.expires_at,
                    revoked_at=row.revoked_at,
                    first_used_at=row.first_used_at,
                    now=now,
                ),
            )
            for row in rows
        ]


def revoke_link(clinic_id: int, sender_id: str, link_id: str) -> bool | None:
    """Switch off one link of a patient of this clinic: ``None`` when the patient or the link
    is not theirs, ``False`` when it was already off."""
    db.ensure_schema()
    with db.session_scope() as session:
        link = session.scalars(
            select(PatientLink)
            .join(Patient, Patient.id == PatientLink.patient_id)
            .where(
                PatientLink.id == link_id,
                Patient.sender_id == sender_id,
                Patient.clinic_id == clinic_id,
            )
        ).one_or_none()
        if link is None:
            return None
        if link.revoked_at is not None:
            return False
        link.revoked_at = utcnow()
        return True


def update_patient(
    clinic_id: int, sender_id: str, *, label: str | None, therapist: str | None
) -> bool:
    """Set a patient's label and assigned therapist (empty: none); ``False`` if not theirs."""
    label = check_label(label)
    db.ensure_schema()
    with db.session_scope() as session:
        patient = _clinic_patient(session, clinic_id, sender_id)
        if patient is None:
            return False
        patient.therapist = _therapist(session, patient.clinic, therapist)
        patient.label = label
        return True


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
