"""A patient's consent to what the chat keeps: the clinic's text, its version, the agreement.

Nothing of a conversation is stored before the patient agreed to the current version of their
clinic's consent text: the chat channels (:mod:`bot.chat.patient_channel`) read
:func:`status` for every message and hand nothing to the assistant - whose tracker store,
journal and flags are where things are kept - without a current agreement. Agreeing
(:func:`record`) adds a row to ``patient_consents`` with the version and the time; withdrawing
in the chat (:func:`withdraw`) stamps that row, and storing stops with the next message. A
clinic that changes its text raises its ``consent_version``, and every patient is asked again.

The one thing kept without consent is a crisis flag (:func:`keep_crisis_flag`): a message the
crisis detector reads as danger now, or as a recent overdose or attempt, is kept for the care
team as any crisis flag is, so that a person in danger who wrote before agreeing is not lost
(the vital interests of the person, GDPR art. 6(1)(d) and 9(2)(c)). Nothing else of that
message or the conversation is kept.

Like :mod:`bot.patient_tokens`, this module runs in both environments - the Rasa server
(SQLAlchemy 1.4) and the web app, action server and CLI (SQLAlchemy 2) - so it uses only
SQLAlchemy Core ``text()`` queries, PyYAML and the pure :mod:`bot.encryption`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy
import yaml
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot import encryption, patient_tokens, settings
from bot.safety import clinic_lines

CONSENT_FILE = Path(__file__).resolve().parent / "content" / "consent.yml"
#: The ``source`` of a crisis flag kept from a message sent without consent.
FLAG_SOURCE = "before_consent"
#: Longest consent text a clinic may set, in characters.
MAX_TEXT_CHARS = 10_000


class VersionChanged(Exception):
    """The patient agreed to a version of the text that is no longer the clinic's."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the consent text is at version {current}")
        self.current = current


class UnknownClinic(Exception):
    """No clinic has this slug."""


@functools.cache
def _content() -> dict[str, Any]:
    data = yaml.safe_load(CONSENT_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not str(data.get("text", "")).strip():
        raise ValueError(f"{CONSENT_FILE} must have a consent text")
    return data


def default_text() -> str:
    """The consent text of a clinic that has not set its own."""
    return str(_content()["text"]).strip()


def paragraphs(consent_text: str) -> list[str]:
    """The text's paragraphs (blank lines between them), each on one line."""
    blocks = [" ".join(block.split()) for block in consent_text.replace("\r\n", "\n").split("\n\n")]
    return [block for block in blocks if block]


def check_text(consent_text: str) -> str:
    """A clinic's consent text as stored: some words, at most :data:`MAX_TEXT_CHARS`."""
    cleaned = consent_text.replace("\r\n", "\n").replace("\x00", "").strip()
    if not paragraphs(cleaned):
        raise ValueError("The consent text is empty.")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise ValueError(f"The consent text must be at most {MAX_TEXT_CHARS:,} characters long.")
    return cleaned


@dataclass(frozen=True)
class ConsentText:
    """What the widget shows before the chat keeps anything."""

    version: int
    title: str
    paragraphs: tuple[str, ...]
    agree: str
    not_yet: str

    def as_dict(self) -> dict[str, Any]:
        """The widget configuration's ``consent``."""
        return {
            "version": self.version,
            "title": self.title,
            "paragraphs": list(self.paragraphs),
            "agree": self.agree,
            "not_yet": self.not_yet,
            "changed": message("changed"),
            "withdrawn": message("withdrawn"),
        }


def consent_text(version: int, own_text: str | None) -> ConsentText:
    """A clinic's consent text of ``version``: its own words, or the default."""
    content = _content()
    return ConsentText(
        version=version,
        title=str(content["title"]),
        paragraphs=tuple(paragraphs(own_text or default_text())),
        agree=str(content["agree"]),
        not_yet=str(content["not_yet"]),
    )


def message(name: str, crisis_settings: Mapping[str, Any] | None = None) -> str:
    """A message of consent.yml (``required``, ``changed``, ``withdrawn``) on one line, with
    the clinic's crisis numbers filled in."""
    template = " ".join(str(_content()["messages"][name]).split())
    complete = clinic_lines.complete_settings(crisis_settings)
    lines = clinic_lines.lines_for("suicide", complete)
    line = f", or {clinic_lines.line_text(lines[0])}" if lines else ""
    return template.replace("{emergency_number}", complete["emergency_number"]).replace(
        "{crisis_line}", line
    )


def erasure_message(outcome: str) -> str:
    """What the widget's "Delete my data" says for an erasure's ``outcome`` (or ``failed``)."""
    return " ".join(str(_content()["erasure"][outcome]).split())


# ----------------------------------------------------------------------------- database


def _now_for(connection: Connection) -> datetime:
    """Now, as the models store it: naive UTC on SQLite, aware elsewhere."""
    now = datetime.now(timezone.utc)
    return now.replace(tzinfo=None) if connection.dialect.name == "sqlite" else now


def _as_utc(value: datetime | str | None) -> datetime | None:
    return None if value is None else patient_tokens._as_utc(value)


def _timestamps(*names: str) -> list[Any]:
    return [sqlalchemy.bindparam(name, type_=sqlalchemy.DateTime(timezone=True)) for name in names]


@dataclass(frozen=True)
class Status:
    """Where a patient stands with their clinic's consent text."""

    #: The clinic's current version.
    version: int
    #: The version of the patient's latest agreement, and when; ``None`` if they never agreed.
    agreed_version: int | None = None
    agreed_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @property
    def current(self) -> bool:
        """Whether the chat may keep what the patient writes now."""
        return (
            self.agreed_version is not None
            and self.withdrawn_at is None
            and self.agreed_version >= self.version
        )

    @property
    def changed(self) -> bool:
        """The patient agreed to an older version and did not withdraw it."""
        return (
            self.agreed_version is not None
            and self.withdrawn_at is None
            and self.agreed_version < self.version
        )

    def as_dict(self) -> dict[str, Any]:
        """What the chat channels tell the widget."""
        return {
            "current": self.current,
            "version": self.version,
            "agreed_version": self.agreed_version,
            "agreed_at": self.agreed_at.isoformat() if self.agreed_at else None,
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
        }


def _clinic_row(connection: Connection, slug: str) -> dict[str, Any]:
    row = (
        connection.execute(
            text("SELECT id, consent_version, consent_text FROM clinics WHERE slug = :slug"),
            {"slug": slug},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownClinic(slug)
    return dict(row)


def _latest(connection: Connection, sender_id: str) -> dict[str, Any] | None:
    row = (
        connection.execute(
            text(
                "SELECT patient_consents.version AS version, patient_consents.agreed_at AS "
                "agreed_at, patient_consents.withdrawn_at AS withdrawn_at, patient_consents.id "
                "AS id FROM patient_consents JOIN patients ON patients.id = "
                "patient_consents.patient_id WHERE patients.sender_id = :sender_id "
                "ORDER BY patient_consents.id DESC LIMIT 1"
            ),
            {"sender_id": sender_id},
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def _status(connection: Connection, sender_id: str, clinic: str) -> Status:
    version = int(_clinic_row(connection, clinic)["consent_version"] or 1)
    latest = _latest(connection, sender_id)
    if latest is None:
        return Status(version=version)
    return Status(
        version=version,
        agreed_version=int(latest["version"]),
        agreed_at=_as_utc(latest["agreed_at"]),
        withdrawn_at=_as_utc(latest["withdrawn_at"]),
    )


def status(sender_id: str, clinic: str) -> Status:
    """The patient's consent to ``clinic``'s current text (:class:`UnknownClinic` if none)."""
    with patient_tokens._engine().connect() as connection:
        return _status(connection, sender_id, clinic)


def clinic_text(clinic: str) -> ConsentText:
    """The clinic's current consent text (:class:`UnknownClinic` if there is no such clinic)."""
    with patient_tokens._engine().connect() as connection:
        row = _clinic_row(connection, clinic)
    return consent_text(int(row["consent_version"] or 1), row["consent_text"])


def _patient_id(connection: Connection, sender_id: str, clinic_id: int) -> int:
    """The patient's id, the row made now in ``clinic_id`` if this is their first record."""
    found = connection.execute(
        text("SELECT id, clinic_id FROM patients WHERE sender_id = :sender_id"),
        {"sender_id": sender_id},
    ).first()
    if found is not None:
        if int(found[1]) != clinic_id:
            raise patient_tokens.AccessDenied("wrong_clinic")
        return int(found[0])
    now = _now_for(connection)
    connection.execute(
        text(
            "INSERT INTO patients (clinic_id, sender_id, created_at, last_seen_at) "
            "VALUES (:clinic_id, :sender_id, :now, :now)"
        ).bindparams(*_timestamps("now")),
        {"clinic_id": clinic_id, "sender_id": sender_id, "now": now},
    )
    return int(
        connection.execute(
            text("SELECT id FROM patients WHERE sender_id = :sender_id"), {"sender_id": sender_id}
        ).scalar_one()
    )


def record(sender_id: str, clinic: str, version: int) -> Status:
    """The patient agreed to ``version`` of the clinic's text, now.

    :class:`VersionChanged` if that is not the clinic's current version (the text changed
    while it was on screen): the patient must read the new one first. Agreeing again to the
    version already agreed to adds no row.
    """
    with patient_tokens._engine().begin() as connection:
        clinic_row = _clinic_row(connection, clinic)
        current = int(clinic_row["consent_version"] or 1)
        if version != current:
            raise VersionChanged(current)
        patient_id = _patient_id(connection, sender_id, int(clinic_row["id"]))
        before = _status(connection, sender_id, clinic)
        if before.current:
            return before
        connection.execute(
            text(
                "INSERT INTO patient_consents (patient_id, version, agreed_at) "
                "VALUES (:patient_id, :version, :now)"
            ).bindparams(*_timestamps("now")),
            {"patient_id": patient_id, "version": version, "now": _now_for(connection)},
        )
        return _status(connection, sender_id, clinic)


def withdraw(sender_id: str) -> datetime | None:
    """The patient withdrew their consent: stamp their latest agreement (once); when it was
    withdrawn, or ``None`` if there was no agreement to withdraw."""
    with patient_tokens._engine().begin() as connection:
        latest = _latest(connection, sender_id)
        if latest is None:
            return None
        if latest["withdrawn_at"] is not None:
            return _as_utc(latest["withdrawn_at"])
        now = _now_for(connection)
        connection.execute(
            text(
                "UPDATE patient_consents SET withdrawn_at = :now WHERE id = :id "
                "AND withdrawn_at IS NULL"
            ).bindparams(*_timestamps("now")),
            {"now": now, "id": latest["id"]},
        )
        return _as_utc(now)


def keep_crisis_flag(
    sender_id: str, clinic: str, *, message_text: str, category: str | None, level: str
) -> None:
    """Keep a crisis flag for a message sent without consent (see the module's docstring).

    The flag is a risk flag like any other (sealed message, notified by the web app's
    notifier), with ``source`` :data:`FLAG_SOURCE`. Further such messages of the same category
    within the flag window count on the open flag; their words are not kept.
    """
    window = timedelta(minutes=settings.flag_window_minutes())
    with patient_tokens._engine().begin() as connection:
        clinic_id = int(_clinic_row(connection, clinic)["id"])
        patient_id = _patient_id(connection, sender_id, clinic_id)
        now = _now_for(connection)
        same_category = "category IS NULL" if category is None else "category = :category"
        open_flag = connection.execute(
            text(
                "SELECT id FROM risk_flags WHERE patient_id = :patient_id AND source = :source "
                "AND level = :level AND acknowledged_at IS NULL AND erased_at IS NULL "
                f"AND {same_category} AND last_message_at > :since ORDER BY id DESC LIMIT 1"
            ).bindparams(*_timestamps("since")),
            {
                "patient_id": patient_id,
                "source": FLAG_SOURCE,
                "level": level,
                "since": now - window,
                **({"category": category[:64]} if category is not None else {}),
            },
        ).scalar()
        if open_flag is not None:
            connection.execute(
                text(
                    "UPDATE risk_flags SET message_count = message_count + 1, "
                    "last_message_at = :now WHERE id = :id"
                ).bindparams(*_timestamps("now")),
                {"now": now, "id": open_flag},
            )
            return
        connection.execute(
            text(
                "INSERT INTO risk_flags (patient_id, category, source, level, message, "
                "created_at, notify_attempts, message_count, last_message_at, "
                "notified_in_digest) VALUES (:patient_id, :category, :source, :level, "
                ":message, :now, 0, 1, :now, :digest)"
            ).bindparams(*_timestamps("now")),
            {
                "patient_id": patient_id,
                "category": category[:64] if category else None,
                "source": FLAG_SOURCE,
                "level": level,
                "message": encryption.seal(message_text.replace("\x00", "\ufffd")),
                "now": now,
                "digest": False,
            },
        )
