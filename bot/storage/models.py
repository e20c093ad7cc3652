"""SQLAlchemy models for everything the application stores.

The database also holds Rasa's tracker-store table ``events``. Rasa creates and owns that
table from another process (SQLAlchemy 1.4), so it is deliberately absent from this
metadata and filtered out of every Alembic operation (see :data:`FOREIGN_TABLES`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.journal.schema import KINDS
from bot.storage.sealed import SealedJSON, SealedText

LINK_KINDS: tuple[str, ...] = ("invite", "anonymous")
#: How soon the care team should look at a risk flag, most pressing first: ``urgent`` (danger
#: now), ``elevated`` (a risk disclosed, e.g. a recent overdose), ``info`` (worth knowing),
#: ``request`` (a message the patient left for the care team: a flag's path, not a risk).
RISK_LEVELS: tuple[str, ...] = ("urgent", "elevated", "info", "request")
DEFAULT_ACCENT_COLOR = "#2f6f73"
# The same values as bot/content/clinic_defaults.yml, for rows made without
# bot.clinics.registry (and for the migration's existing rows): a clinic is never without an emergency number.
DEFAULT_EMERGENCY_NUMBER = "911"
DEFAULT_RESPONSE_TIME = "within one working day"
DEFAULT_NOTIFY_LEVELS: tuple[str, ...] = ("urgent", "elevated", "request")
#: What staff may record as done about a risk flag when they acknowledge it, until the clinic
#: sets its own list (the same as bot/content/clinic_defaults.yml).
DEFAULT_FLAG_ACTIONS: tuple[str, ...] = (
    "Called the patient",
    "Safety plan reviewed",
    "Seen in session",
    "No action needed",
)
#: The time zone the dashboard shows a clinic's times in, and session days and reminders' quiet
#: hours are counted in, until it sets its own (the same as bot/content/clinic_defaults.yml).
DEFAULT_TIMEZONE = "UTC"
#: Until a clinic sets its own (``clinic update --quiet-hours``).
DEFAULT_QUIET_HOURS = "21:00-08:00"
STATUSES: tuple[str, ...] = ("complete", "partial", "interrupted")
RATING_MIN = 0
RATING_MAX = 10

#: Tables that live in the same database but belong to someone else. Alembic must never
#: create, alter or drop them, and autogenerate must not propose to.
FOREIGN_TABLES: frozenset[str] = frozenset({"events"})

# Named constraints make future migrations possible on SQLite, where Alembic has to
# rebuild tables ("batch mode") and can only drop or alter a constraint it can name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored in UTC and always comes back timezone-aware.

    SQLite has no timezone type and silently drops ``tzinfo``; PostgreSQL's ``timestamptz``
    returns values in the session's time zone. Normalising on both sides gives callers one
    rule everywhere: aware UTC in, aware UTC out. Naive datetimes are refused because the
    zone they meant cannot be known.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


def _rating_check(column: str) -> str:
    return f"{column} IS NULL OR ({column} >= {RATING_MIN} AND {column} <= {RATING_MAX})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Clinic(Base):
    """A clinic that embeds the companion; every patient belongs to exactly one.

    ``origins`` are the web origins ("https://clinic.example") whose pages may embed the
    widget and open a chat; ``crisis_lines`` (``[{"name", "number", "detail"?, "kinds"?}]``)
    are shown by the widget's "Get help now" button even when the assistant is unreachable,
    and the crisis replies name those whose ``kinds`` fit (:mod:`bot.safety.clinic_lines`).
    Only a clinic with ``allow_anonymous`` lets people chat without a personal link (the demo
    clinic). ``patient_url`` is the page that personal links open; without it, the first origin.
    """

    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    crisis_lines: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    accent_color: Mapped[str] = mapped_column(String(7), default=DEFAULT_ACCENT_COLOR)
    greeting: Mapped[str | None] = mapped_column(Text)
    allow_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    patient_url: Mapped[str | None] = mapped_column(String(2048))
    notify_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    #: Conversations older than this many days are removed by ``python -m bot purge``;
    #: ``None`` keeps them until the patient or the clinic erases them.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    #: The clinic must keep treatment records (a legal hold, or its records policy): a
    #: patient's "delete my data" then files an :class:`ErasureRequest` for staff to resolve
    #: instead of erasing at once.
    erasure_review: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Said on its own, first, in every reply to danger now (911, 999, 112 …).
    emergency_number: Mapped[str] = mapped_column(String(32), default=DEFAULT_EMERGENCY_NUMBER)
    #: When the care team usually reads a new flag, as every crisis reply says it.
    response_time: Mapped[str] = mapped_column(Text, default=DEFAULT_RESPONSE_TIME)
    #: The risk-flag levels announced by e-mail or webhook (:mod:`bot.clinics.notify`); the others
    #: are only shown on the dashboard.
    notify_levels: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_NOTIFY_LEVELS)
    )
    #: Whether replies after a session offer the Fireside Project's peer-support line.
    peer_support_line: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How a patient reaches the care team (phone, e-mail, portal), and when someone answers:
    #: what the assistant says when a patient asks for a person.
    care_team_contact: Mapped[str | None] = mapped_column(Text)
    care_team_hours: Mapped[str | None] = mapped_column(Text)
    #: What staff choose from when they acknowledge a risk flag (:class:`FlagAction`), in the
    #: clinic's order: the clinic's own words for what its team does about a flag.
    flag_actions: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_FLAG_ACTIONS)
    )
    #: The IANA time zone ("Europe/London") the dashboard and the PDF show the clinic's times
    #: in, and session days, the integration window and reminders' quiet hours are counted in;
    #: stored times stay UTC.
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    #: ``HH:MM-HH:MM`` in :attr:`timezone` during which no reminder is sent (may span
    #: midnight); ``""`` for none.
    quiet_hours: Mapped[str] = mapped_column(String(11), default=DEFAULT_QUIET_HOURS)
    #: What patients agree to before the chat keeps anything (:mod:`bot.patient_consent`):
    #: ``None`` shows the default text of bot/content/consent.yml. Every change of the text
    #: raises ``consent_version``, and a patient who agreed to an older version is asked again.
    consent_text: Mapped[str | None] = mapped_column(Text)
    consent_version: Mapped[int] = mapped_column(Integer, default=1)

    patients: Mapped[list[Patient]] = relationship(back_populates="clinic")


class Patient(Base):
    """A person chatting with the companion, known only by the conversation's sender id.

    No names or contact details are stored here on purpose: the sender id is the only link
    between the journal and the conversation.
    """

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    sender_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the patient's data was last erased. The tracker store drops any event older than
    #: this that a conversation in flight at that moment would otherwise write back.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The clinic's own name for the patient (initials and a chart number, say), sealed like
    #: patient text: it is what lets staff recognise the person.
    label: Mapped[str | None] = mapped_column(SealedText)
    #: The therapist the patient is assigned to; ``None`` when nobody is (or they left).
    therapist_id: Mapped[int | None] = mapped_column(
        ForeignKey("therapists.id", ondelete="SET NULL"), index=True
    )

    clinic: Mapped[Clinic] = relationship(back_populates="patients")
    therapist: Mapped[Therapist | None] = relationship()
    entries: Mapped[list[JournalEntry]] = relationship(
        back_populates="patient", passive_deletes=True
    )
    risk_flags: Mapped[list[RiskFlag]] = relationship(
        back_populates="patient", passive_deletes=True
    )
    links: Mapped[list[PatientLink]] = relationship(back_populates="patient", passive_deletes=True)


class PatientConsent(Base):
    """One agreement of a patient to their clinic's consent text, and its withdrawal.

    A row per "I agree": the text's ``version`` and when; ``withdrawn_at`` once the patient
    withdrew it in the chat. Rows are never changed otherwise or deleted with an erasure: they
    hold a version number and times only, and they are what shows that the chat kept the
    patient's words with their consent. The patient's latest row decides whether anything is
    stored now (:mod:`bot.patient_consent`).
    """

    __tablename__ = "patient_consents"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_patient_consents_patient_id_agreed_at", "patient_id", "agreed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    agreed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[Patient] = relationship()


class JournalEntry(Base):
    """One journal entry: an integration reflection, a trigger log, a check-in or a safety plan.

    ``number`` is the per-patient sequence the person sees and types ("show entry 3"); the
    primary key is never shown to anyone. Free text lives in ``fields`` exactly as typed,
    sealed at rest (:class:`SealedJSON`).
    """

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("patient_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(_in_list("kind", KINDS), name="kind"),
        CheckConstraint(_in_list("status", STATUSES), name="status"),
        CheckConstraint(_rating_check("mood"), name="mood_range"),
        CheckConstraint(_rating_check("craving"), name="craving_range"),
        Index("ix_journal_entries_patient_id_created_at", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    session_date: Mapped[date | None] = mapped_column(Date)
    mood: Mapped[int | None] = mapped_column(Integer)
    craving: Mapped[int | None] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column(SealedJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="entries")


class RiskFlag(Base):
    """A message that showed signs of risk, kept for the care team to review.

    ``level`` is one of :data:`RISK_LEVELS`. ``acknowledged_at``/``acknowledged_by`` are
    filled in by the therapist dashboard once a clinician has seen the flag.

    Messages of one patient and category that follow each other closely are one flag (see
    :func:`bot.journal.entries.record_risk_flag`): ``message`` is the first of them, ``message_count``
    how many there were, ``latest_messages`` the latest few. A flood of crisis messages then
    stays one line on the dashboard and one notice, and never buries another patient's flag.
    """

    __tablename__ = "risk_flags"
    __table_args__ = (
        Index("ix_risk_flags_patient_id_created_at", "patient_id", "created_at"),
        CheckConstraint(_in_list("level", RISK_LEVELS), name="level"),
        CheckConstraint("message_count >= 1", name="message_count_positive"),
        UniqueConstraint("patient_id", "coalesce_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16), default="urgent")
    message: Mapped[str] = mapped_column(SealedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    #: The clinic is told about every new flag of a level it is notified of (email and/or
    #: webhook) by the web app, which keeps retrying until this is set; the flag never waits
    #: for that to be stored.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Attempts so far; :data:`bot.clinics.notify.NOT_NOTIFIED` (-1) for a flag whose level the
    #: clinic is not notified of, which the outbox then never reads again.
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0)
    notify_error: Mapped[str | None] = mapped_column(Text)
    #: The patient erased their data before the care team was told about this flag: the
    #: message is gone, the row stays (level, category, time) until the notice is delivered
    #: or the flag acknowledged, and is deleted then (:mod:`bot.privacy.erasure`,
    #: :mod:`bot.clinics.notify`).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How many messages this flag stands for: the first, and every later one of the same
    #: patient and category that came within the window of the one before.
    message_count: Mapped[int] = mapped_column(Integer, default=1)
    #: When the latest of those messages came; the window is measured from it.
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The latest few messages after the first, oldest first, as ``{"at": ISO time, "text":
    #: what the patient wrote}``; ``None`` while the flag holds one message. Patient text,
    #: so sealed like ``message`` and erased with it.
    latest_messages: Mapped[list[dict[str, str]] | None] = mapped_column(SealedJSON)
    #: While the flag takes further messages: its category (``""`` for none). Cleared once
    #: it is acknowledged, erased, quiet for the window or overtaken by a more urgent flag of
    #: the same category. Unique per patient, so that the database itself refuses a second
    #: flag taking the same messages, whichever process writes it.
    coalesce_key: Mapped[str | None] = mapped_column(String(64))
    #: The clinic was told of this flag in a digest notice (over its notice limit) rather
    #: than in a notice of its own; such notices do not count towards the limit.
    notified_in_digest: Mapped[bool] = mapped_column(Boolean, default=False)

    patient: Mapped[Patient] = relationship(back_populates="risk_flags")
    actions: Mapped[list[FlagAction]] = relationship(
        back_populates="flag", passive_deletes=True, order_by="FlagAction.id"
    )


class FlagAction(Base):
    """One acknowledgement of a risk flag on the dashboard: what was done, and whether it stands.

    ``action`` is one of the clinic's ``flag_actions`` at the time (``None`` for an
    acknowledgement made without one, such as those from before actions were recorded),
    ``note`` what staff wrote about it, ``follow_up`` the day someone should come back to the
    patient. Undoing an acknowledgement opens the flag again and stamps ``undone_at`` and
    ``undone_by`` instead of deleting the row: the history keeps what the care team believed
    was done, and when that changed. At most one row of a flag is not undone, and it matches
    the flag's ``acknowledged_at``/``acknowledged_by``, which stay what the rest of the code
    (notices, erasure, the lists) reads.

    The note is staff's clinical text about the patient, so it is sealed like patient text and
    erased with the flag's message (:mod:`bot.privacy.erasure`).
    """

    __tablename__ = "flag_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("risk_flags.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(SealedText)
    follow_up: Mapped[date | None] = mapped_column(Date)
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by: Mapped[str] = mapped_column(String(320))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(320))
    #: The follow-up was done: it leaves the list of open follow-ups.
    follow_up_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_done_by: Mapped[str | None] = mapped_column(String(320))

    flag: Mapped[RiskFlag] = relationship(back_populates="actions")


class PatientLink(Base):
    """One signed token given to a patient: a personal link, or an anonymous demo session.

    The token itself is never stored, only its id (the JWT ``jti``): a copied database cannot
    be used to chat as anyone, while a link can still be revoked before it expires.
    """

    __tablename__ = "patient_links"
    __table_args__ = (CheckConstraint(_in_list("kind", LINK_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the link first opened a chat (stamped once by ``verify_token``).
    first_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[Patient] = relationship(back_populates="links")


class Therapist(Base):
    """A clinician (or clinic administrator) who signs in to the dashboard.

    ``email`` is stored lower-cased; ``password_hash`` is an argon2id hash, never the password.
    """

    __tablename__ = "therapists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    clinic: Mapped[Clinic] = relationship()


class TherapistSession(Base):
    """A signed-in browser: server-side, so that logging out or timing out really ends it.

    ``id`` is the SHA-256 of the cookie's random value, so a copy of this table cannot be
    used to take over a session.
    """

    __tablename__ = "therapist_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    therapist: Mapped[Therapist] = relationship()


class LoginThrottle(Base):
    """Failed sign-ins per e-mail address, whether or not such an account exists.

    Counting unknown addresses the same way as real ones is what keeps lock-outs from
    revealing which accounts exist.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One line of the audit log: who did what, to whom, when, from where, and the outcome.

    Append-only: the database itself refuses UPDATE and DELETE on this table (triggers made
    by migration 0003), so not even a bug in this application can rewrite history.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_clinic_id_at", "clinic_id", "at"),
        CheckConstraint("outcome IN ('ok', 'denied', 'failed')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    clinic_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


ERASURE_STATUSES: tuple[str, ...] = ("open", "erased", "declined")


class ErasureRequest(Base):
    """A patient asked for their data to be erased while their clinic must keep records.

    Staff resolve it in the dashboard: erase (the same erasure as ``python -m bot patient
    erase``, with its receipt in the audit log) or decline with a reason the patient can be
    given. ``requested_by`` is ``"patient"`` (asked in the chat) or a staff e-mail.
    """

    __tablename__ = "erasure_requests"
    __table_args__ = (
        CheckConstraint(_in_list("status", ERASURE_STATUSES), name="status"),
        Index("ix_erasure_requests_clinic_id_status", "clinic_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()


#: The validated measures a therapist can schedule (their wording and scoring:
#: bot/content/measures.yml, bot/journal/measures.py).
MEASURE_IDS: tuple[str, ...] = ("phq9", "gad7", "audit_c")


class MeasureSchedule(Base):
    """A validated measure the care team asked a patient to fill in: once, or every
    ``every_days`` days from ``due_on``. The chat offers it from ``due_on`` on; each answer
    moves ``due_on`` on by ``every_days``, or ends a one-off (``completed_at``)."""

    __tablename__ = "measure_schedules"
    __table_args__ = (
        CheckConstraint(_in_list("measure", MEASURE_IDS), name="measure"),
        CheckConstraint("every_days IS NULL OR every_days > 0", name="every_days_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    measure: Mapped[str] = mapped_column(String(20))
    every_days: Mapped[int | None] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(320))

    patient: Mapped[Patient] = relationship()


class MeasureResult(Base):
    """A measure the patient answered in the chat: every item's score, the total and its band
    as scored then, and whether the safety item (PHQ-9 item 9) was above 0."""

    __tablename__ = "measure_results"
    __table_args__ = (CheckConstraint(_in_list("measure", MEASURE_IDS), name="measure"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    measure: Mapped[str] = mapped_column(String(20))
    answers: Mapped[list[int]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(64))
    safety_item_positive: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("measure_schedules.id", ondelete="SET NULL")
    )

    patient: Mapped[Patient] = relationship()


#: Where a question the care team wrote for a patient stands: waiting for the next reflection,
#: answered or skipped in one (the entry it belongs to), or withdrawn by staff before it was asked.
CARE_TEAM_QUESTION_STATUSES: tuple[str, ...] = ("pending", "answered", "skipped", "withdrawn")


class CareTeamQuestion(Base):
    """A question a therapist wrote for one patient, asked in their next session reflection
    after its own questions. The question is clinical and the answer is the patient's words:
    both sealed at rest. Withdrawn questions are kept, with who withdrew them and when."""

    __tablename__ = "care_team_questions"
    __table_args__ = (
        CheckConstraint(_in_list("status", CARE_TEAM_QUESTION_STATUSES), name="status"),
        Index("ix_care_team_questions_patient_id_status", "patient_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(SealedText)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    answer: Mapped[str | None] = mapped_column(SealedText)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entries.id", ondelete="SET NULL")
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(320))

    patient: Mapped[Patient] = relationship()


#: Who recorded a ketamine session: the care team on the dashboard, or the patient in the chat.
SESSION_SOURCES: tuple[str, ...] = ("staff", "patient")
#: How a follow-up after a session reaches the patient (a reminder transport, or the chat's
#: greeting offer).
FOLLOW_UP_CHANNELS: tuple[str, ...] = ("chat", "email")


class RecordedSession(Base):
    """A ketamine session of a patient: its day, optionally its time (``HH:MM`` in the
    clinic's time zone), and who recorded it. One per patient and day, whoever told it first;
    staff may delete a wrong one. The integration window and the reminders are counted
    from it (:mod:`bot.journal.session_calendar`)."""

    __tablename__ = "recorded_sessions"
    __table_args__ = (
        UniqueConstraint("patient_id", "session_on"),
        CheckConstraint(_in_list("source", SESSION_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    session_on: Mapped[date] = mapped_column(Date)
    session_time: Mapped[str | None] = mapped_column(String(5))
    source: Mapped[str] = mapped_column(String(10))
    recorded_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()


class SessionFollowUp(Base):
    """A follow-up made at a day mark (1, 3 or 7) after a session, once per channel.

    For the chat it records that the greeting offered the check-in; for a reminder transport
    (e-mail) it is also the outbox row, delivered with retries like risk-flag notices
    (:mod:`bot.clinics.reminders`): ``attempts`` (-1: not sent, reminders were stopped),
    ``error`` (the state of the last attempt) and ``sent_at``. The unique key is what makes
    each reminder go out once, whichever process gets there first.
    """

    __tablename__ = "session_follow_ups"
    __table_args__ = (
        UniqueConstraint("session_id", "mark", "channel"),
        CheckConstraint(_in_list("channel", FOLLOW_UP_CHANNELS), name="channel"),
        CheckConstraint("mark IN (1, 3, 7)", name="mark"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("recorded_sessions.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    mark: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ReminderSubscription(Base):
    """A patient's opt-in, in the chat, to reminders after their sessions.

    ``address`` (an e-mail address for the ``email`` channel) is contact data, sealed at rest
    like patient text. Stopping keeps the row with ``stopped_at`` and how (``chat``, ``link``
    for the unsubscribe link), so an unsubscribe link keeps answering; an erasure deletes it.
    At most one row of a patient is active (not stopped).
    """

    __tablename__ = "reminder_subscriptions"
    __table_args__ = (CheckConstraint("channel IN ('email')", name="channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10), default="email")
    address: Mapped[str] = mapped_column(SealedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_via: Mapped[str | None] = mapped_column(String(10))
