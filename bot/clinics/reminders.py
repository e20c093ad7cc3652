"""Reminders after a session, for patients who asked for them in the chat.

A patient opts in with an address ("remind me by email"; :func:`subscribe`), sealed at rest
like patient text, and out again in the chat ("stop reminders"; :func:`stop`) or with the
one-click link every reminder carries (:func:`unsubscribe_by_token`). While opted in, the
patient gets one reminder at each day mark (1, 3 and 7) after their latest session
(:mod:`bot.journal.session_calendar`), while the mark is open and never during the clinic's
quiet hours (``clinics.quiet_hours`` in ``clinics.timezone``: 21:00-08:00 UTC unless the
clinic sets its own): a reminder that falls in them waits for the morning.

Delivery reuses the risk-flag outbox's machinery (:mod:`bot.clinics.notify`): the web app's
notifier thread runs :func:`send_due` after each pass over the flags. :func:`send_due`
first queues the reminders that are due, one :class:`SessionFollowUp` row per session, mark
and channel (the unique key makes each reminder go out once, whichever process gets there
first), then delivers each queued row through its channel's :class:`ReminderTransport`,
claimed with a compare-and-set on ``attempts`` and retried with the same growing pauses as
notices. A row whose patient stopped reminders meanwhile is marked not sent (``attempts``
-1) and never read again.

What a reminder says is in ``bot/content/reminders.yml``: the clinic's name, a link to the
chat and the way out - never anything the patient wrote, nor that the clinic treats them
with ketamine. The link to the chat is the clinic's page (``patient_url``, else its first
origin): a personal link holds a bearer token that is never stored, and must not travel in
e-mail; the patient opens the chat the way they always do.

The unsubscribe link is ``/reminders/unsubscribe/<token>`` on the web app, where the token is
the subscription's id signed with a key derived from the token secret; it does not expire,
so an old e-mail still stops reminders. It is also in the ``List-Unsubscribe`` header with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058): mail programs POST to it.

A transport per channel keeps the door open for SMS: a new ``ReminderTransport`` in
:data:`TRANSPORTS` and the channel's name in the models' check constraints.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot import settings
from bot.clinics import notify, registry
from bot.content import FOLDER, load_mapping
from bot.journal import session_calendar
from bot.storage import db
from bot.storage.models import (
    Clinic,
    Patient,
    RecordedSession,
    ReminderSubscription,
    SessionFollowUp,
    utcnow,
)

logger = logging.getLogger(__name__)

#: ``attempts`` of a queued reminder whose patient stopped reminders before it went out.
NOT_SENT = -1
MAX_ADDRESS = 254
BATCH = 100
_ADDRESS = re.compile(
    r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TOKEN = re.compile(r"^([0-9]{1,18})\.([A-Za-z0-9_-]{43})$")


@cache
def content() -> dict[str, Any]:
    """The reminder's wording (bot/content/reminders.yml)."""
    return load_mapping(FOLDER / "reminders.yml")


# ----------------------------------------------------------------------------- settings


def check_address(text: str) -> str | None:
    """An e-mail address as the patient typed it, tidied; ``None`` if it is not one."""
    address = parseaddr(text.strip())[1].strip()
    if not address or len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        return None
    return address


def quiet(now: datetime, zone: ZoneInfo, quiet_hours: str | None) -> bool:
    """Whether ``now`` is within the quiet hours (which may span midnight) in ``zone``."""
    try:
        hours = registry.parse_quiet_hours(quiet_hours)
    except ValueError:
        logger.warning("Unreadable quiet hours %r: treated as 21:00-08:00", quiet_hours)
        hours = (time(21, 0), time(8, 0))
    if hours is None:
        return False
    start, end = hours
    local = now.astimezone(zone).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


# ----------------------------------------------------------------------------- opt-in and out


@dataclass(frozen=True)
class SubscriptionView:
    """A patient's active opt-in: the channel, and the address (for the patient only)."""

    id: int
    channel: str
    address: str
    created_at: datetime


def _patient_id(session: Any, sender_id: str) -> int | None:
    return session.scalar(select(Patient.id).where(Patient.sender_id == sender_id))


def _stop_active(session: Any, patient_id: int, via: str, at: datetime) -> int:
    result = session.execute(
        update(ReminderSubscription)
        .where(
            ReminderSubscription.patient_id == patient_id,
            ReminderSubscription.stopped_at.is_(None),
        )
        .values(stopped_at=at, stopped_via=via)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def subscribe(sender_id: str, address: str, channel: str = "email") -> SubscriptionView | None:
    """Turn reminders on for the patient at ``address`` (an earlier opt-in is replaced);
    ``None`` for an unknown patient. ``ValueError`` for an address that is not one."""
    checked = check_address(address)
    if checked is None:
        raise ValueError("not an e-mail address")
    if channel not in TRANSPORTS:
        raise ValueError(f"Unknown channel {channel!r}.")
    db.ensure_schema()
    with db.session_scope() as session:
        patient_id = _patient_id(session, sender_id)
        if patient_id is None:
            return None
        now = utcnow()
        _stop_active(session, patient_id, "chat", now)
        row = ReminderSubscription(
            patient_id=patient_id, channel=channel, address=checked, created_at=now
        )
        session.add(row)
        session.flush()
        return SubscriptionView(row.id, row.channel, row.address, row.created_at)


def stop(sender_id: str, via: str = "chat") -> bool:
    """Turn the patient's reminders off; False if they were not on."""
    db.ensure_schema()
    with db.session_scope() as session:
        patient_id = _patient_id(session, sender_id)
        if patient_id is None:
            return False
        return _stop_active(session, patient_id, via, utcnow()) > 0


def active_subscription(sender_id: str) -> SubscriptionView | None:
    """The patient's reminders, if they are on."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        row = session.scalars(
            select(ReminderSubscription)
            .join(Patient, Patient.id == ReminderSubscription.patient_id)
            .where(Patient.sender_id == sender_id, ReminderSubscription.stopped_at.is_(None))
            .order_by(ReminderSubscription.id.desc())
            .limit(1)
        ).one_or_none()
        if row is None:
            return None
        return SubscriptionView(row.id, row.channel, row.address, row.created_at)


def subscriptions_export(patient_id: int, session: Any) -> list[dict[str, Any]]:
    """The patient's opt-ins, for their own copy of their data (addresses included)."""
    rows = session.scalars(
        select(ReminderSubscription)
        .where(ReminderSubscription.patient_id == patient_id)
        .order_by(ReminderSubscription.id)
    )
    return [
        {
            "channel": row.channel,
            "address": row.address,
            "created_at": row.created_at.isoformat(),
            "stopped_at": row.stopped_at.isoformat() if row.stopped_at else None,
        }
        for row in rows
    ]


# ----------------------------------------------------------------------------- unsubscribe links


def _token_key() -> bytes:
    return hmac.new(
        settings.token_secret(), b"companion-reminders-unsubscribe", hashlib.sha256
    ).digest()


def _signature(subscription_id: int) -> str:
    digest = hmac.new(_token_key(), f"unsubscribe:{subscription_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def unsubscribe_token(subscription_id: int) -> str:
    """The token of one opt-in's unsubscribe link: its id and a signature of it."""
    return f"{subscription_id}.{_signature(subscription_id)}"


def read_unsubscribe_token(token: str) -> int | None:
    """The opt-in a token was made for, or ``None`` for a forged or mangled one."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    subscription_id = int(match[1])
    if not hmac.compare_digest(match[2], _signature(subscription_id)):
        return None
    return subscription_id


def unsubscribe_url(subscription_id: int) -> str:
    return f"{settings.public_web_url()}/reminders/unsubscribe/{unsubscribe_token(subscription_id)}"


@dataclass(frozen=True)
class LinkTarget:
    """What an unsubscribe link stands for: the clinic to name, and whether it is stopped."""

    subscription_id: int
    clinic_name: str
    stopped: bool


def link_target(token: str) -> LinkTarget | None:
    """The opt-in behind a link (``None``: forged, or erased with the patient's data)."""
    subscription_id = read_unsubscribe_token(token)
    if subscription_id is None:
        return None
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        row = session.execute(
            select(ReminderSubscription.stopped_at, Clinic.name)
            .join(Patient, Patient.id == ReminderSubscription.patient_id)
            .join(Clinic, Clinic.id == Patient.clinic_id)
            .where(ReminderSubscription.id == subscription_id)
        ).one_or_none()
    if row is None:
        return None
    return LinkTarget(subscription_id, row.name, row.stopped_at is not None)


def unsubscribe_by_token(token: str) -> LinkTarget | None:
    """Stop the opt-in a link stands for (again is fine); ``None`` for a link that is not one."""
    target = link_target(token)
    if target is None:
        return None
    if not target.stopped:
        with db.session_scope() as session:
            session.execute(
                update(ReminderSubscription)
                .where(
                    ReminderSubscription.id == target.subscription_id,
                    ReminderSubscription.stopped_at.is_(None),
                )
                .values(stopped_at=utcnow(), stopped_via="link")
                .execution_options(synchronize_session=False)
            )
    return LinkTarget(target.subscription_id, target.clinic_name, True)


# ----------------------------------------------------------------------------- the message


@dataclass(frozen=True)
class Reminder:
    """Everything one reminder says and where it goes. No patient text by construction."""

    follow_up_id: int
    subscription_id: int
    clinic_slug: str
    clinic_name: str
    chat_url: str
    address: str
    mark: int

    @property
    def unsubscribe_url(self) -> str:
        return unsubscribe_url(self.subscription_id)


class ReminderTransport(Protocol):
    """One way of reaching a patient (e-mail now; SMS can be added the same way).

    ``send`` raises :class:`bot.clinics.notify.DeliveryError` when the reminder did not go
    out (it is retried), and returns a warning for a partial delivery (not retried).
    """

    channel: str

    def send(self, reminder: Reminder) -> str | None: ...


def reminder_email(reminder: Reminder) -> EmailMessage:
    """The reminder as an e-mail: the clinic's name as the sender's, the chat's address, the
    one-click unsubscribe headers (RFC 8058), and the same Message-ID on every attempt."""
    words = content()
    clinic = _CONTROL.sub(" ", reminder.clinic_name).strip() or reminder.clinic_slug
    sender = settings.smtp_from()
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    values = {
        "clinic": clinic,
        "chat_url": reminder.chat_url,
        "unsubscribe_url": reminder.unsubscribe_url,
    }
    message = EmailMessage()
    message["Subject"] = words["subject"].format(**values)
    message["From"] = Address(display_name=clinic, addr_spec=parseaddr(sender)[1] or sender)
    message["To"] = reminder.address
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<reminder-{reminder.follow_up_id}.{reminder.clinic_slug}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<{reminder.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(words["body"].format(**values))
    return message


class EmailTransport:
    """Reminders by e-mail, through the SMTP server the risk-flag notices use."""

    channel = "email"

    def send(self, reminder: Reminder) -> str | None:
        return notify.smtp_deliver(reminder_email(reminder))


#: The transport of each channel a patient can opt in to.
TRANSPORTS: dict[str, ReminderTransport] = {"email": EmailTransport()}


def chat_url(clinic: Clinic) -> str:
    """Where a reminder sends the patient: the clinic's page with the chat (never a token)."""
    if clinic.patient_url:
        return clinic.patient_url
    if clinic.origins:
        return clinic.origins[0]
    return settings.public_web_url()


# ----------------------------------------------------------------------------- the outbox


@dataclass
class ReminderReport:
    """What one pass did, by follow-up id."""

    queued: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    waiting: list[int] = field(default_factory=list)
    not_sent: list[int] = field(default_factory=list)


def queue_due(now: datetime | None = None) -> list[int]:
    """Queue the reminders that are due now: for each patient with reminders on, the open
    day mark of their latest session, unless it was queued before or the clinic is in its
    quiet hours. The new rows' ids."""
    now = now or utcnow()
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        rows = session.execute(
            select(
                ReminderSubscription.patient_id,
                ReminderSubscription.channel,
                Clinic.timezone,
                Clinic.quiet_hours,
            )
            .join(Patient, Patient.id == ReminderSubscription.patient_id)
            .join(Clinic, Clinic.id == Patient.clinic_id)
            .where(ReminderSubscription.stopped_at.is_(None))
        ).all()
        due: list[tuple[int, int, int, str]] = []
        for patient_id, channel, zone_name, quiet_hours in rows:
            zone = session_calendar.zone_of(zone_name)
            if quiet(now, zone, quiet_hours):
                continue
            sessions = [
                session_calendar.SessionView(
                    row.id,
                    row.session_on,
                    row.session_time,
                    row.source,
                    row.recorded_by,
                    row.created_at,
                )
                for row in session.scalars(
                    select(RecordedSession).where(RecordedSession.patient_id == patient_id)
                )
            ]
            latest = session_calendar.latest_started(sessions, zone, now)
            if latest is None:
                continue
            mark = session_calendar.open_mark(latest.starts_at(zone), now)
            if mark is not None:
                due.append((latest.id, patient_id, mark, channel))
    queued = []
    for session_id, patient_id, mark, channel in due:
        try:
            with db.session_scope() as session:
                row = SessionFollowUp(
                    session_id=session_id,
                    patient_id=patient_id,
                    mark=mark,
                    channel=channel,
                    created_at=now,
                )
                session.add(row)
                session.flush()
                queued.append(row.id)
        except IntegrityError:
            continue  # queued before (by this pass's predecessor or another process)
    return queued


@dataclass(frozen=True)
class _Queued:
    id: int
    attempts: int
    error: str | None
    created_at: datetime
    reminder: Reminder | None
    channel: str
    quiet: bool


def _queued(now: datetime) -> list[_Queued]:
    """Reminders not yet sent, oldest first, each with its patient's active opt-in (if
    any) and whether their clinic is in its quiet hours."""
    with db.session_scope(write=False) as session:
        rows = session.execute(
            select(SessionFollowUp, Patient.id, Clinic)
            .join(Patient, Patient.id == SessionFollowUp.patient_id)
            .join(Clinic, Clinic.id == Patient.clinic_id)
            .where(
                SessionFollowUp.channel != "chat",
                SessionFollowUp.sent_at.is_(None),
                SessionFollowUp.attempts >= 0,
            )
            .order_by(SessionFollowUp.created_at, SessionFollowUp.id)
        ).all()
        queued = []
        for follow_up, patient_id, clinic in rows:
            subscription = session.scalars(
                select(ReminderSubscription)
                .where(
                    ReminderSubscription.patient_id == patient_id,
                    ReminderSubscription.channel == follow_up.channel,
                    ReminderSubscription.stopped_at.is_(None),
                )
                .order_by(ReminderSubscription.id.desc())
                .limit(1)
            ).one_or_none()
            reminder = None
            if subscription is not None:
                reminder = Reminder(
                    follow_up_id=follow_up.id,
                    subscription_id=subscription.id,
                    clinic_slug=clinic.slug,
                    clinic_name=clinic.name,
                    chat_url=chat_url(clinic),
                    address=subscription.address,
                    mark=follow_up.mark,
                )
            zone = session_calendar.zone_of(clinic.timezone)
            queued.append(
                _Queued(
                    follow_up.id,
                    follow_up.attempts,
                    follow_up.error,
                    follow_up.created_at,
                    reminder,
                    follow_up.channel,
                    quiet(now, zone, clinic.quiet_hours),
                )
            )
    return queued


def _update_unsent(follow_up_id: int, expected: int, **values: Any) -> bool:
    """Change a queued reminder only while it is unsent and at ``expected`` attempts: the guard that
    lets several processes share the outbox."""
    with db.session_scope() as session:
        result = session.execute(
            update(SessionFollowUp)
            .where(
                SessionFollowUp.id == follow_up_id,
                SessionFollowUp.sent_at.is_(None),
                SessionFollowUp.attempts == expected,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def send_due(
    stop: threading.Event | None = None, now: datetime | None = None, *, limit: int = BATCH
) -> ReminderReport:
    """One pass: queue what is due, then deliver every queued reminder whose next attempt is
    due and whose clinic is outside its quiet hours. ``now`` is for tests (default: the
    clock); ``stop`` ends the pass early, between two reminders."""
    report = ReminderReport()
    report.queued.extend(queue_due(now))
    attempted = 0
    for item in _queued(now or utcnow()):
        clock = now or utcnow()
        if item.reminder is None:
            if _update_unsent(
                item.id,
                item.attempts,
                attempts=NOT_SENT,
                error=notify.attempt_state(clock, "not sent", item.attempts)
                + ": reminders were stopped",
            ):
                report.not_sent.append(item.id)
            continue
        if stop is not None and stop.is_set():
            break
        due = notify.next_attempt_at(item.attempts, item.error, item.created_at)
        if item.quiet or due > clock or attempted >= limit:
            report.waiting.append(item.id)
            continue
        attempt = item.attempts + 1
        if not _update_unsent(
            item.id,
            item.attempts,
            attempts=attempt,
            error=notify.attempt_state(clock, "sending", attempt),
        ):
            continue
        attempted += 1
        try:
            warning = TRANSPORTS[item.channel].send(item.reminder)
        except notify.DeliveryError as error:
            _update_unsent(
                item.id,
                attempt,
                error=notify.attempt_state(now or utcnow(), "failed", attempt, str(error)),
            )
            report.failed[item.id] = str(error)
            logger.warning("Reminder %s failed (attempt %s): %s", item.id, attempt, error)
            continue
        _update_unsent(
            item.id,
            attempt,
            sent_at=now or utcnow(),
            error=warning[: notify.MAX_ERROR_CHARS] if warning else None,
        )
        report.sent.append(item.id)
        logger.info("Reminder %s sent", item.id)
    return report


def reminder_pass(stop: threading.Event) -> ReminderReport:
    """:func:`send_due` as the notifier thread calls it."""
    return send_due(stop)
