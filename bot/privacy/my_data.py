"""A patient's copy of their own data (GDPR articles 15 and 20), through a short-lived link.

The chat offers the link (:func:`export_link`); opening it downloads one JSON document with
everything stored about the patient (and the same link with :data:`READABLE_SUFFIX` the same
data as a page a person can read, see :mod:`bot.web.my_data`): the journal exactly as
``bot.records.exports`` writes it, the messages that raised risk flags, the conversations
as the dashboard reads them, and every agreement to the clinic's consent text (its version,
when, and when it was withdrawn). The link's token is a JWT signed with the same key as patients'
chat tokens, but it is its own kind of token (``typ`` and ``aud`` "my-data", and none of the
chat token's claims), so a chat token opens no download and a download token opens no chat.

The link lasts ten minutes: long enough to click, short enough that a link forwarded or left
in a chat window on a shared computer is soon useless. Within that time it may be opened
more than once (a download that broke off can be retried); every download is audited with
the token's ``jti``.

A link stops working before it expires when:

- the clinic has revoked every link of the patient: revoking says "whoever holds these links
  is not to be let in", and a download link that was handed out in that chat a few minutes
  earlier is exactly what such a person would still hold;
- the patient's data was erased after the link was made: there is nothing left to give.

A patient who never had a link (an open demo channel) is not affected by the first rule.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select

from bot import records, settings
from bot.clinics import audit, reminders
from bot.journal import measures, session_calendar
from bot.journal.entries import export_patient
from bot.patient_tokens import ALGORITHM
from bot.records import consents
from bot.storage import db
from bot.storage.models import Patient, PatientLink, utcnow

__all__ = [
    "LIFETIME",
    "MESSAGES",
    "READABLE_SUFFIX",
    "ExportRefused",
    "UnknownPatient",
    "download",
    "export_document",
    "export_link",
    "issue_token",
    "link_expiry",
    "readable_link",
    "verify_token",
]

TOKEN_TYPE = "my-data"
LIFETIME = timedelta(minutes=10)
PATH = "/api/my-data"
#: Appended to a download link: the same data as an HTML page instead of JSON.
READABLE_SUFFIX = "/readable"
#: The file formats of a download, by the extension of the file's name.
FORMATS = ("json", "html")

#: What the patient reads when a link does not work, by reason; the HTTP status beside it.
MESSAGES: dict[str, tuple[int, str]] = {
    "not_found": (
        404,
        "This download link is not valid. Ask the companion in your chat for a new one.",
    ),
    "expired": (
        410,
        "This download link has expired: links work for 10 minutes. "
        "Ask the companion in your chat for a new one.",
    ),
    "revoked": (
        410,
        "This download link no longer works because your clinic has switched off your chat "
        "link. Please ask your clinic for a copy of your data.",
    ),
    "erased": (
        410,
        "Your data was erased after this link was made, so there is nothing left to download.",
    ),
}


class UnknownPatient(LookupError):
    """No patient has this sender id: there is nothing stored to give them."""


class ExportRefused(Exception):
    """A download link that does not (or no longer) work; ``reason`` keys :data:`MESSAGES`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.status, self.message = MESSAGES[reason]
        super().__init__(reason)


@dataclass(frozen=True)
class Claims:
    sender_id: str
    jti: str
    issued_at: int
    expires_at: datetime


# ----------------------------------------------------------------------------- tokens


def issue_token(sender_id: str, *, now: datetime | None = None) -> tuple[str, datetime]:
    """A signed download token for ``sender_id`` and when it expires."""
    moment = now or utcnow()
    expires_at = (moment + LIFETIME).replace(microsecond=0)
    claims = {
        "typ": TOKEN_TYPE,
        "aud": TOKEN_TYPE,
        "sub": sender_id,
        "jti": secrets.token_hex(16),
        "iat": int(moment.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, settings.token_secret(), algorithm=ALGORITHM), expires_at


def verify_token(token: str) -> Claims:
    """The token's claims, or :class:`ExportRefused` (``expired`` or ``not_found``)."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise ExportRefused("not_found")
    try:
        claims = jwt.decode(
            token,
            settings.token_secret(),
            algorithms=[ALGORITHM],
            audience=TOKEN_TYPE,
            options={"require": ["typ", "aud", "sub", "jti", "iat", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise ExportRefused("expired") from None
    except jwt.InvalidTokenError:
        raise ExportRefused("not_found") from None
    if claims.get("typ") != TOKEN_TYPE or not all(
        isinstance(claims.get(key), str) and claims[key] for key in ("sub", "jti")
    ):
        raise ExportRefused("not_found")
    if not isinstance(claims["iat"], int | float) or not isinstance(claims["exp"], int | float):
        raise ExportRefused("not_found")
    return Claims(
        sender_id=claims["sub"],
        jti=claims["jti"],
        issued_at=int(claims["iat"]),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def _check_known(sender_id: str) -> None:
    """:class:`UnknownPatient` if no patient has this sender id."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        known = session.scalar(select(Patient.id).where(Patient.sender_id == sender_id))
    if known is None:
        raise UnknownPatient(sender_id)


def link_expiry(sender_id: str) -> datetime:
    """When a link made now for ``sender_id`` would stop working, for the chat to say so.

    :class:`UnknownPatient` if no patient has this sender id.
    """
    _check_known(sender_id)
    return (utcnow() + LIFETIME).replace(microsecond=0)


def export_link(sender_id: str) -> tuple[str, datetime]:
    """A download link for the patient's widget to open, and when it stops working.

    :class:`UnknownPatient` if no patient has this sender id.
    """
    _check_known(sender_id)
    token, expires_at = issue_token(sender_id)
    return f"{settings.public_web_url()}{PATH}/{token}", expires_at


def readable_link(url: str) -> str:
    """The readable (HTML) copy of a download link: the same token, so the same limits."""
    return f"{url}{READABLE_SUFFIX}"


# ----------------------------------------------------------------------------- document


def _conversation(conversation: records.Conversation) -> dict[str, Any]:
    return {
        "number": conversation.number,
        "started_at": conversation.started_at.isoformat(),
        "ended_at": conversation.ended_at.isoformat(),
        "messages": [
            {
                "at": message.at.isoformat(),
                "speaker": message.speaker,
                "text": message.text,
                "options": list(message.options),
            }
            for message in conversation.messages
        ],
    }


def _own_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the JSON export has it; the care team's questions asked in it keep the
    question and the patient's answer, not which staff member wrote it (as for flags)."""
    asked = entry.get("care_team_questions")
    if not asked:
        return entry
    return {
        **entry,
        "care_team_questions": [
            {key: value for key, value in question.items() if key != "asked_by"}
            for question in asked
        ],
    }


def export_document(sender_id: str) -> dict[str, Any]:
    """Everything stored about the patient, as the download gives it.

    ``entries`` has the shape of the JSON export (``bot.records.exports``; a question the care
    team asked in an entry without who wrote it); risk flags carry
    when, what kind and the patient's own message (not which staff member saw it).
    """
    journal = export_patient(sender_id)
    if journal is None:
        raise UnknownPatient(sender_id)
    return {
        "patient": journal["patient"],
        "clinic": journal["clinic"],
        "exported_at": journal["exported_at"],
        "entries": [_own_entry(entry) for entry in journal["entries"]],
        "risk_flags": [
            {
                "created_at": flag["created_at"],
                "category": flag["category"],
                "message": flag["message"],
                "message_count": flag["message_count"],
                "latest_messages": flag["latest_messages"],
            }
            for flag in journal["risk_flags"]
        ],
        "measures": [
            {
                "measure": result["measure"],
                "measure_name": measures.measure(result["measure"]).short,
                "total": result["total"],
                "max_total": result["max_total"],
                "band": result["band"],
                "answers": result["answers"],
                "completed_at": result["completed_at"],
            }
            for result in journal["measures"]
        ],
        "conversations": [_conversation(c) for c in records.read_conversations(sender_id)],
        "sessions": [view.as_export() for view in session_calendar.recorded_sessions(sender_id)],
        "reminders": _reminders(sender_id),
        "consent": [agreement.as_export() for agreement in consents.history(sender_id)],
    }


def _reminders(sender_id: str) -> list[dict[str, Any]]:
    """The patient's reminder opt-ins, with the addresses they gave."""
    with db.session_scope(write=False) as session:
        patient_id = session.scalar(select(Patient.id).where(Patient.sender_id == sender_id))
        return [] if patient_id is None else reminders.subscriptions_export(patient_id, session)


def _check_patient(claims: Claims) -> int:
    """The patient's clinic id, or why this link no longer works."""
    with db.session_scope(write=False) as session:
        patient = session.scalars(
            select(Patient).where(Patient.sender_id == claims.sender_id)
        ).one_or_none()
        if patient is None:
            raise ExportRefused("not_found")
        if patient.erased_at is not None and claims.issued_at < int(patient.erased_at.timestamp()):
            raise ExportRefused("erased")
        links = session.execute(
            select(PatientLink.revoked_at).where(PatientLink.patient_id == patient.id)
        ).all()
        if links and all(revoked_at is not None for (revoked_at,) in links):
            raise ExportRefused("revoked")
        return patient.clinic_id


def download(
    token: str, *, ip: str | None = None, file_format: str = "json"
) -> tuple[dict[str, Any], str]:
    """The document a link opens and its file name (``file_format``: one of :data:`FORMATS`);
    audited (``patient_export``, with the format) before it is returned, since the readable
    copy gives away as much as the JSON. :class:`ExportRefused` when the link does not work."""
    if file_format not in FORMATS:
        raise ValueError(f"unknown export format {file_format!r}")
    claims = verify_token(token)
    db.ensure_schema()
    clinic_id = _check_patient(claims)
    try:
        document = export_document(claims.sender_id)
    except UnknownPatient:
        raise ExportRefused("not_found") from None
    audit.record(
        "patient_export",
        actor="patient",
        clinic_id=clinic_id,
        target=claims.sender_id,
        ip=ip,
        detail={
            "jti": claims.jti,
            "entries": len(document["entries"]),
            "risk_flags": len(document["risk_flags"]),
            "conversations": len(document["conversations"]),
            "format": file_format,
        },
    )
    filename = f"my-companion-data-{time.strftime('%Y%m%d', time.gmtime())}.{file_format}"
    return document, filename
