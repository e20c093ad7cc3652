"""Telling a clinic about new risk flags: e-mail and/or a signed webhook, through an outbox.

Why an outbox: the action server only stores the flag, so a crisis reply never waits on a
mail server or on a clinic's web server. The web app runs :class:`NotifierThread`, which
keeps calling :func:`send_pending`: every flag whose ``notified_at`` is still empty (and
that nobody has acknowledged yet) is announced to its clinic, and retried with growing
pauses until that works. ``python -m bot notify --once`` does one pass by hand.

Only flags of the levels in the clinic's ``notify_levels`` are announced (urgent and elevated
unless the clinic chose otherwise; urgent always). A flag of another level is marked once, by
the first pass that sees it: ``notify_attempts`` becomes :data:`NOT_NOTIFIED` (-1) and
``notify_error`` says why, ``notified_at`` stays empty, and the outbox query reads only
flags with ``notify_attempts >= 0``, so it is never looked at again - even if the clinic
later adds its level (it is on the dashboard, which is where such flags are meant to be read).

What is sent is never what the patient wrote: e-mail crosses servers the clinic does not
control and lands in inboxes on phones. A notice holds the clinic, the flag's id and level,
when it was raised, its category and a link to the patient's page on the dashboard, where
staff of that clinic read the rest after signing in.

A flag whose patient erased their data before its notice went out was kept without its
message (``erased_at``, :mod:`bot.privacy.erasure`) only so that the care team is still told. Its
notice says so, and the notifier deletes the row as soon as the notice is delivered; a pass
also deletes any such row that was acknowledged on the dashboard meanwhile (or whose level
is not announced), so none outlives its purpose.

One notice per flag, not per message: messages of one patient and category that follow each
other closely are one flag (:func:`bot.journal.entries.record_risk_flag`), announced once with how many
messages it held when the notice went out. Each clinic also has a notice limit:
:func:`notice_limit` notices of their own per :func:`bot.journal.entries.flag_window` (10 per 30
minutes unless set). Past it, a pass bundles the clinic's remaining flags into one digest
notice (``risk_flag.digest``: each flag's id, level, category, count and link) instead of one
notice each. Two kinds of notice never wait for the digest, limit or not: a patient's first
notice in the window, and a flag more urgent than any the clinic was told of for that patient
in the window. So a flood from one patient can use up the limit with its own repeats, but can
neither hide another patient's first flag nor fold that patient's own escalation into a
digest. Several notifier processes count the limit each from the database, so together they
may send a few more notices than it allows, never fewer.

Delivery is at least once. A clinic with both e-mail and a webhook gets both on every
attempt until one attempt delivers to all of them, so a failing webhook can repeat an
e-mail; for a crisis, a repeated alert is better than a missing one. Repeats are easy to
recognise: an e-mail keeps its ``Message-ID`` and a webhook its ``flag_id``.

Webhook requests are POSTs of a small JSON document with two headers:
``X-Companion-Timestamp`` (Unix seconds) and ``X-Companion-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``. Each clinic has its own key, derived
from :func:`bot.settings.webhook_secret` (see :func:`webhook_key`, printed by ``python -m
bot notify --webhook-key SLUG``), so one clinic's key cannot forge another's notices. A
receiver recomputes the signature over the raw body, compares in constant time and refuses
timestamps more than a few minutes old (a replayed request).

Several web app processes may run the notifier at once. A flag is claimed with a
compare-and-set ``UPDATE`` on ``notify_attempts`` (only one process can move it from n to
n+1), and ``notify_error`` starts with the time of the attempt's last step: ``… sending``
while an attempt is under way, ``… failed`` once it failed. That is what the pauses between
attempts are measured from, in every process and across restarts; an attempt whose process
died is taken up again after :data:`CLAIM_LEASE`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import quote

import requests
from sqlalchemy import delete, or_, select, update

from bot import settings
from bot.journal.entries import flag_window
from bot.storage import db
from bot.storage.models import RISK_LEVELS, Clinic, Patient, RiskFlag, utcnow

logger = logging.getLogger(__name__)

#: Seconds to wait for each step of the SMTP conversation.
SMTP_TIMEOUT = 15.0
#: Seconds to connect to, then to hear back from, a clinic's webhook.
WEBHOOK_TIMEOUT = (5.0, 15.0)
#: The longest pause between two attempts.
MAX_BACKOFF_SECONDS = 300
#: How long an attempt may be under way before another process takes the flag over. Longer
#: than any attempt can take with the timeouts above, so a slow attempt is never doubled.
CLAIM_LEASE = timedelta(minutes=2)
#: Notices sent at most per pass; the next pass sends the rest.
BATCH = 100
MAX_ERROR_CHARS = 1000
EVENT = "risk_flag.created"
DIGEST_EVENT = "risk_flag.digest"
#: ``notify_attempts`` of a flag whose level the clinic is not notified of.
NOT_NOTIFIED = -1
#: The notice's first sentence, by level.
_LEVEL_SENTENCES: dict[str, str] = {
    "urgent": "showed signs of danger now (an urgent risk flag)",
    "elevated": "disclosed a risk (an elevated risk flag)",
    "info": "raised something the care team may want to know (an info flag)",
    "request": "left a message for the care team (not a risk flag)",
}

_CATEGORY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_STATE = re.compile(r"(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (?P<state>sending|failed)\b")


class DeliveryError(Exception):
    """A notice that did not reach its clinic; the text is kept in ``notify_error``."""


@dataclass(frozen=True)
class Notice:
    """Everything a notice says about one flag. Deliberately without the flag's message."""

    flag_id: int
    clinic_slug: str
    clinic_name: str
    sender_id: str
    category: str | None
    source: str | None
    created_at: datetime
    emails: tuple[str, ...]
    webhook_url: str | None
    level: str = "urgent"
    #: The patient erased their data meanwhile: the row goes once this notice is delivered.
    erased: bool = False
    #: How many messages the flag stood for when the notice was read from the outbox.
    message_count: int = 1

    @property
    def url(self) -> str:
        return patient_page_url(self.sender_id)

    @property
    def channels(self) -> bool:
        return bool(self.emails or self.webhook_url)

    @property
    def name(self) -> str:
        return f"Risk flag {self.flag_id}"


@dataclass(frozen=True)
class Digest:
    """One notice for several flags of a clinic that is past its notice limit."""

    clinic_slug: str
    clinic_name: str
    emails: tuple[str, ...]
    webhook_url: str | None
    notices: tuple[Notice, ...]

    @property
    def flag_ids(self) -> list[int]:
        return [notice.flag_id for notice in self.notices]

    @property
    def name(self) -> str:
        return f"Digest of risk flags {', '.join(str(i) for i in self.flag_ids)}"


@dataclass
class NotifyReport:
    """What one pass did, by flag id."""

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    #: Failed before, and their next attempt is not due yet (or one is under way elsewhere).
    waiting: list[int] = field(default_factory=list)
    #: Their clinic has neither notification e-mail addresses nor a webhook.
    unconfigured: list[int] = field(default_factory=list)
    #: Claimed by another process between this pass's look and its claim.
    taken: list[int] = field(default_factory=list)
    #: Of a level their clinic is not notified of: marked, never announced.
    not_notified: list[int] = field(default_factory=list)
    #: Kept only until the care team knew of them (the patient erased their data): deleted.
    deleted: list[int] = field(default_factory=list)
    #: Sent (also in ``sent``) in a digest notice, their clinic being past its notice limit.
    digested: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line per outcome that happened, for operators."""
        lines = [f"Sent {_count(self.sent)}." if self.sent else "Sent nothing."]
        if self.digested:
            lines.append(
                f"In a digest, their clinic being past its notice limit: {_ids(self.digested)}."
            )
        for flag_id, error in self.failed.items():
            lines.append(f"Flag {flag_id} failed (will be retried): {error}")
        if self.waiting:
            lines.append(f"Waiting for their next attempt: {_ids(self.waiting)}.")
        if self.taken:
            lines.append(f"Being sent by another process: {_ids(self.taken)}.")
        if self.unconfigured:
            lines.append(
                f"Not sent, because their clinic has no notification e-mail or webhook: "
                f"{_ids(self.unconfigured)}."
            )
        if self.not_notified:
            lines.append(
                f"Not announced, because their clinic is not notified of their level: "
                f"{_ids(self.not_notified)}."
            )
        if self.deleted:
            lines.append(
                f"Deleted after the care team knew of them (the patient had erased their "
                f"data): {_ids(self.deleted)}."
            )
        return "\n".join(lines)


def _count(ids: list[int]) -> str:
    return f"{len(ids)} notice{'s' if len(ids) != 1 else ''} ({_ids(ids)})"


def _ids(ids: list[int]) -> str:
    return ("flag " if len(ids) == 1 else "flags ") + ", ".join(str(i) for i in ids)


# ----------------------------------------------------------------------------- content


def notice_limit() -> int:
    """Notices of their own a clinic gets per :func:`bot.journal.entries.flag_window` before the rest
    go into a digest (:func:`bot.settings.notice_limit`; see the module docstring)."""
    return settings.notice_limit()


def patient_page_url(sender_id: str) -> str:
    """The dashboard page of one patient (sign-in required), as the notice links to it."""
    return f"{settings.public_web_url()}/therapist/patients/{quote(sender_id, safe='')}"


def _plain(value: str) -> str:
    """Text that is safe in a one-line header: control characters (line breaks) removed."""
    return _CONTROL.sub(" ", value).strip()


def _label(value: str | None) -> str | None:
    """A category or source as the detector names them; anything else is withheld.

    They come from our own detector, but the column is free text: checking the shape keeps
    a future mistake from ever putting a patient's words into a notice.
    """
    if value and _CATEGORY.fullmatch(value):
        return value
    return None


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def email_message(notice: Notice) -> EmailMessage:
    """The e-mail for one notice: plain text, no patient text, same Message-ID every time."""
    sender = settings.smtp_from()
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    clinic = _plain(notice.clinic_name) or notice.clinic_slug
    category = _label(notice.category) or "not given"
    level = _level(notice.level)
    message = EmailMessage()
    message["Subject"] = f"{level.capitalize()} risk flag {notice.flag_id} at {clinic}"
    message["From"] = sender
    message["To"] = ", ".join(notice.emails)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<risk-flag-{notice.flag_id}.{notice.clinic_slug}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if notice.erased:
        follow_up = (
            "The patient has since erased their data: what they wrote is gone, and this\n"
            "flag is deleted now that this notice is delivered. Contact the patient through\n"
            "your usual channels. Their page on the dashboard (sign-in required):\n"
        )
    else:
        follow_up = (
            "Open the patient's record on the dashboard (sign-in required) to read it and\n"
            "acknowledge the flag:\n"
        )
    message.set_content(
        f"A message from a patient of {clinic} {_LEVEL_SENTENCES[level]}.\n"
        "\n"
        f"Flag: {notice.flag_id}\n"
        f"Level: {level}\n"
        f"Raised: {_time(notice.created_at)}\n"
        f"Category: {category}\n"
        f"Messages: {notice.message_count}\n"
        "\n"
        f"{follow_up}"
        f"{notice.url}\n"
        "\n"
        "This e-mail deliberately does not contain what the patient wrote.\n"
    )
    return message


_LEVEL_ORDER: tuple[str, ...] = tuple(_LEVEL_SENTENCES)


def _level(value: str | None) -> str:
    """The flag's level; anything unknown is announced as urgent, never played down."""
    return value if value in _LEVEL_SENTENCES else "urgent"


def webhook_body(notice: Notice) -> bytes:
    """The JSON document POSTed to the clinic's webhook (ASCII only, keys sorted)."""
    document = {
        "event": EVENT,
        "flag_id": notice.flag_id,
        "clinic": notice.clinic_slug,
        "clinic_name": notice.clinic_name,
        "created_at": notice.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "category": _label(notice.category),
        "source": _label(notice.source),
        "level": _level(notice.level),
        "erased": notice.erased,
        "message_count": notice.message_count,
        "url": notice.url,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def _digest_line(notice: Notice) -> str:
    messages = f"{notice.message_count} message{'s' if notice.message_count != 1 else ''}"
    erased = ", since erased by the patient" if notice.erased else ""
    return (
        f"- Flag {notice.flag_id}: {_level(notice.level)}, "
        f"{_label(notice.category) or 'category not given'}, raised {_time(notice.created_at)}, "
        f"{messages}{erased}\n  {notice.url}\n"
    )


def digest_email(digest: Digest) -> EmailMessage:
    """The e-mail for a digest: one line and link per flag, no patient text."""
    sender = settings.smtp_from()
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    clinic = _plain(digest.clinic_name) or digest.clinic_slug
    ids = digest.flag_ids
    levels = [_level(notice.level) for notice in digest.notices]
    most = min(levels, key=_LEVEL_ORDER.index)
    message = EmailMessage()
    message["Subject"] = (
        f"{len(ids)} more risk flag{'s' if len(ids) != 1 else ''} at {clinic} "
        f"(digest, most pressing: {most})"
    )
    message["From"] = sender
    message["To"] = ", ".join(digest.emails)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = (
        f"<risk-flag-digest-{ids[0]}-{ids[-1]}-{len(ids)}.{digest.clinic_slug}@{domain}>"
    )
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"{clinic} has had its limit of notices of their own for now. These risk flags were\n"
        "raised since, by patients the care team was already told of in this period, at\n"
        "levels no more urgent than before. Open each patient's record on the dashboard\n"
        "(sign-in required) to read it and acknowledge the flag:\n"
        "\n"
        + "".join(_digest_line(notice) for notice in digest.notices)
        + "\nThis e-mail deliberately does not contain what the patients wrote.\n"
    )
    return message


def digest_body(digest: Digest) -> bytes:
    """The JSON document POSTed to the clinic's webhook for a digest (ASCII, keys sorted)."""
    document = {
        "event": DIGEST_EVENT,
        "clinic": digest.clinic_slug,
        "clinic_name": digest.clinic_name,
        "flag_ids": digest.flag_ids,
        "flags": [json.loads(webhook_body(notice)) for notice in digest.notices],
    }
    for flag in document["flags"]:
        del flag["event"], flag["clinic"], flag["clinic_name"]
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def webhook_key(clinic_slug: str) -> str:
    """The key that signs one clinic's webhook requests (hex), to be given to that clinic."""
    return hmac.new(
        settings.webhook_secret(), b"companion-webhook:" + clinic_slug.encode(), hashlib.sha256
    ).hexdigest()


def sign(key: str, timestamp: str, body: bytes) -> str:
    """The ``X-Companion-Signature`` value: ``sha256=`` HMAC of ``"<timestamp>.<body>"``."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


# ----------------------------------------------------------------------------- channels


def send_email(notice: Notice | Digest) -> str | None:
    """Send the e-mail; a warning if some (not all) addresses were refused.

    With STARTTLS on (the default) nothing is sent unless the connection is encrypted and
    the server's certificate checks out.
    """
    message = digest_email(notice) if isinstance(notice, Digest) else email_message(notice)
    return smtp_deliver(message)


def smtp_deliver(message: EmailMessage) -> str | None:
    """Send one e-mail through the configured SMTP server (also used by patients'
    reminders, :mod:`bot.clinics.reminders`); a warning if some addresses were refused,
    :class:`DeliveryError` if it was not sent."""
    host = settings.smtp_host()
    if host is None:
        raise DeliveryError("e-mail: no SMTP server is configured (COMPANION_SMTP_HOST)")
    try:
        with smtplib.SMTP(host, settings.smtp_port(), timeout=SMTP_TIMEOUT) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls():
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"e-mail: {host} does not offer STARTTLS, so nothing was sent "
                        "(COMPANION_SMTP_STARTTLS=0 allows an unencrypted relay)"
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            user = settings.smtp_user()
            if user is not None:
                smtp.login(user, settings.smtp_password())
            refused = smtp.send_message(message)
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError, ValueError, RuntimeError) as error:
        # ValueError/RuntimeError: a sender address or port in the settings that cannot work.
        raise DeliveryError(f"e-mail: {_describe(error)}") from error
    if refused:
        return "e-mail refused for " + ", ".join(
            f"{address} ({code} {_decode(reply)})" for address, (code, reply) in refused.items()
        )
    return None


def post_webhook(notice: Notice | Digest) -> None:
    """POST the signed notice; anything but a 2xx answer is a failure (redirects too)."""
    assert notice.webhook_url is not None
    digest = isinstance(notice, Digest)
    body = digest_body(notice) if isinstance(notice, Digest) else webhook_body(notice)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "integration-companion-notifier",
        "X-Companion-Event": DIGEST_EVENT if digest else EVENT,
        "X-Companion-Timestamp": timestamp,
        "X-Companion-Signature": sign(webhook_key(notice.clinic_slug), timestamp, body),
    }
    try:
        response = requests.post(
            notice.webhook_url,
            data=body,
            headers=headers,
            timeout=WEBHOOK_TIMEOUT,
            allow_redirects=False,
        )
    except (requests.RequestException, ValueError) as error:
        raise DeliveryError(f"webhook: {_describe(error)}") from error
    with response:
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"webhook: answered HTTP {response.status_code}")


def deliver(notice: Notice | Digest) -> str | None:
    """Try every channel of the clinic; :class:`DeliveryError` naming each that failed.

    Returns a warning for a delivery that worked only in part (some addresses refused),
    which is not retried: sending again would not change a refused address.
    """
    errors: list[str] = []
    warning: str | None = None
    if notice.emails:
        try:
            warning = send_email(notice)
        except DeliveryError as error:
            errors.append(str(error))
        except Exception as error:  # noqa: BLE001 - the webhook must still be tried
            logger.exception("%s: unexpected e-mail failure", notice.name)
            errors.append(f"e-mail: {_describe(error)}")
    if notice.webhook_url:
        try:
            post_webhook(notice)
        except DeliveryError as error:
            errors.append(str(error))
        except Exception as error:  # noqa: BLE001 - the failure must still be recorded
            logger.exception("%s: unexpected webhook failure", notice.name)
            errors.append(f"webhook: {_describe(error)}")
    if errors:
        raise DeliveryError("; ".join(errors))
    return warning


def _decode(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = f"{error.smtp_code} {_decode(error.smtp_error)}"
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        text = "every address was refused: " + ", ".join(
            f"{address} ({code} {_decode(reply)})"
            for address, (code, reply) in error.recipients.items()
        )
    else:
        text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {_plain(text)}"


# ----------------------------------------------------------------------------- outbox


def backoff(attempts: int) -> timedelta:
    """The pause after the ``attempts``-th failed attempt: 2, 4, 8 … seconds, at most 5 min."""
    return timedelta(seconds=min(2 ** min(attempts, 16), MAX_BACKOFF_SECONDS))


def attempt_state(at: datetime, state: str, attempt: int, reason: str = "") -> str:
    """``notify_error``'s form: the time of an attempt's last step and that step, which
    :func:`next_attempt_at` reads back (the reminders' outbox writes it too)."""
    text = f"{at.astimezone(UTC).strftime(_TIME_FORMAT)} {state} (attempt {attempt})"
    if reason:
        text += f": {reason}"
    return text[:MAX_ERROR_CHARS]


def next_attempt_at(attempts: int, notify_error: str | None, created_at: datetime) -> datetime:
    """When a flag that is not yet notified may be tried (again)."""
    if attempts <= 0:
        return created_at
    match = _STATE.match(notify_error or "")
    if match is None:
        # Written by something else: the time of the last attempt is unknown.
        return created_at
    at = datetime.strptime(match["at"], _TIME_FORMAT).replace(tzinfo=UTC)
    if match["state"] == "sending":
        return at + CLAIM_LEASE
    return at + backoff(attempts)


def _in_flight(notify_error: str | None) -> bool:
    match = _STATE.match(notify_error or "")
    return match is not None and match["state"] == "sending"


def _pending() -> list[tuple[Notice, int, str | None, bool]]:
    """Unsent, unacknowledged flags, oldest first, with their attempt count, state, and
    whether their clinic is notified of their level.

    The flag's message is not even read: it has no business in this module.
    """
    query = (
        select(
            RiskFlag.id,
            RiskFlag.category,
            RiskFlag.source,
            RiskFlag.level,
            RiskFlag.erased_at,
            RiskFlag.created_at,
            RiskFlag.notify_attempts,
            RiskFlag.notify_error,
            RiskFlag.message_count,
            Patient.sender_id,
            Clinic.slug,
            Clinic.name,
            Clinic.notify_emails,
            Clinic.webhook_url,
            Clinic.notify_levels,
        )
        .join(Patient, RiskFlag.patient_id == Patient.id)
        .join(Clinic, Patient.clinic_id == Clinic.id)
        .where(
            RiskFlag.notified_at.is_(None),
            RiskFlag.acknowledged_at.is_(None),
            RiskFlag.notify_attempts >= 0,
        )
        .order_by(RiskFlag.created_at, RiskFlag.id)
    )
    with db.session_scope(write=False) as session:
        rows = session.execute(query).all()
    return [
        (
            Notice(
                flag_id=row.id,
                clinic_slug=row.slug,
                clinic_name=row.name,
                sender_id=row.sender_id,
                category=row.category,
                source=row.source,
                created_at=row.created_at,
                emails=tuple(row.notify_emails or ()),
                webhook_url=row.webhook_url,
                level=row.level,
                erased=row.erased_at is not None,
                message_count=row.message_count or 1,
            ),
            row.notify_attempts or 0,
            row.notify_error,
            # Urgent is announced whatever the setting says (bot.clinics.registry refuses to drop it).
            row.level == "urgent" or row.level in (row.notify_levels or ()),
        )
        for row in rows
    ]


def _update_unsent(flag_id: int, attempts: int, **values: Any) -> bool:
    """Set ``values`` on the flag only while it is unsent and still at ``attempts`` attempts:
    the guard that lets several senders share the outbox, each change made by at most one of
    them. True if this one made it."""
    with db.session_scope() as session:
        result = session.execute(
            update(RiskFlag)
            .where(
                RiskFlag.id == flag_id,
                RiskFlag.notified_at.is_(None),
                RiskFlag.notify_attempts == attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def _mark_not_notified(flag_id: int, attempts: int, level: str, at: datetime) -> bool:
    """Take the flag out of the outbox for good: its level is not announced (see the module
    docstring). Guarded like a claim, so a flag another process is sending is left alone."""
    return _update_unsent(
        flag_id,
        attempts,
        notify_attempts=NOT_NOTIFIED,
        notify_error=(
            f"{at.astimezone(UTC).strftime(_TIME_FORMAT)} not notified: the clinic is "
            f"not notified of {level if level in _LEVEL_SENTENCES else 'these'} flags"
        )[:MAX_ERROR_CHARS],
    )


def delete_erased_flags() -> list[int]:
    """Delete the flags kept after their patient's erasure whose care team now knows of
    them: notified, acknowledged, or of a level that is not announced. Their ids."""
    known = or_(
        RiskFlag.notified_at.is_not(None),
        RiskFlag.acknowledged_at.is_not(None),
        RiskFlag.notify_attempts < 0,
    )
    with db.session_scope() as session:
        ids = list(
            session.scalars(
                select(RiskFlag.id).where(RiskFlag.erased_at.is_not(None), known).with_for_update()
            )
        )
        if ids:
            session.execute(
                delete(RiskFlag)
                .where(RiskFlag.id.in_(ids), RiskFlag.erased_at.is_not(None))
                .execution_options(synchronize_session=False)
            )
    return ids


def _claim(flag_id: int, attempts: int, at: datetime) -> bool:
    """Take the flag for attempt ``attempts + 1``; False if another process got there first."""
    return _update_unsent(
        flag_id,
        attempts,
        notify_attempts=attempts + 1,
        notify_error=attempt_state(at, "sending", attempts + 1),
    )


def _record_sent(
    flag_id: int, at: datetime, warning: str | None, *, in_digest: bool = False
) -> bool:
    """Mark the flag notified; a flag kept only for this notice (its patient erased their
    data) is deleted instead, in the same transaction. True if it was deleted."""
    with db.session_scope() as session:
        session.execute(
            update(RiskFlag)
            .where(RiskFlag.id == flag_id, RiskFlag.notified_at.is_(None))
            .values(
                notified_at=at,
                notify_error=warning[:MAX_ERROR_CHARS] if warning else None,
                notified_in_digest=in_digest,
            )
            .execution_options(synchronize_session=False)
        )
        result = session.execute(
            delete(RiskFlag)
            .where(RiskFlag.id == flag_id, RiskFlag.erased_at.is_not(None))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def _record_failed(flag_id: int, attempt: int, at: datetime, reason: str) -> None:
    _update_unsent(flag_id, attempt, notify_error=attempt_state(at, "failed", attempt, reason))


@dataclass
class _Told:
    """What each clinic was told during the window: to decide notice or digest."""

    #: Notices of their own, per clinic slug (digests not counted).
    notices: dict[str, int] = field(default_factory=dict)
    #: The most pressing level the clinic was told of, per (clinic slug, sender id), as its
    #: place in :data:`RISK_LEVELS` (0 is urgent).
    levels: dict[tuple[str, str], int] = field(default_factory=dict)

    def needs_own_notice(self, notice: Notice, limit: int) -> bool:
        """A patient's first notice, an escalation, or a clinic still under its limit."""
        told = self.levels.get((notice.clinic_slug, notice.sender_id))
        return (
            told is None
            or _rank(notice.level) < told
            or self.notices.get(notice.clinic_slug, 0) < limit
        )

    def add(self, clinic_slug: str, sender_id: str, level: str, *, own: bool) -> None:
        key = (clinic_slug, sender_id)
        self.levels[key] = min(self.levels.get(key, len(RISK_LEVELS)), _rank(level))
        if own:
            self.notices[clinic_slug] = self.notices.get(clinic_slug, 0) + 1


def _rank(level: str) -> int:
    """A level's place in :data:`RISK_LEVELS` (0 is urgent); an unknown one counts as urgent."""
    return RISK_LEVELS.index(level) if level in RISK_LEVELS else 0


def _told_since(since: datetime) -> _Told:
    """Every notice delivered since ``since``, as :class:`_Told` counts them."""
    query = (
        select(Clinic.slug, Patient.sender_id, RiskFlag.level, RiskFlag.notified_in_digest)
        .join(Patient, RiskFlag.patient_id == Patient.id)
        .join(Clinic, Patient.clinic_id == Clinic.id)
        .where(RiskFlag.notified_at.is_not(None), RiskFlag.notified_at >= since)
    )
    told = _Told()
    with db.session_scope(write=False) as session:
        for slug, sender_id, level, in_digest in session.execute(query):
            told.add(slug, sender_id, level, own=not in_digest)
    return told


def _send_one(notice: Notice, attempts: int, now: datetime | None, report: NotifyReport) -> bool:
    """Deliver one claimed notice and record the outcome; True if it was delivered."""
    try:
        warning = deliver(notice)
    except DeliveryError as error:
        reason = str(error)
        _record_failed(notice.flag_id, attempts + 1, now or utcnow(), reason)
        report.failed[notice.flag_id] = reason
        logger.warning(
            "Risk flag %s: notifying clinic %s failed (attempt %s): %s",
            notice.flag_id,
            notice.clinic_slug,
            attempts + 1,
            reason,
        )
        return False
    if _record_sent(notice.flag_id, now or utcnow(), warning):
        report.deleted.append(notice.flag_id)
    report.sent.append(notice.flag_id)
    logger.info("Risk flag %s: clinic %s notified", notice.flag_id, notice.clinic_slug)
    return True


def _send_digest(
    claimed: list[tuple[Notice, int]], now: datetime | None, report: NotifyReport
) -> None:
    """Deliver one digest for a clinic's claimed flags and record the outcome on each."""
    first = claimed[0][0]
    digest = Digest(
        clinic_slug=first.clinic_slug,
        clinic_name=first.clinic_name,
        emails=first.emails,
        webhook_url=first.webhook_url,
        notices=tuple(notice for notice, _ in claimed),
    )
    try:
        warning = deliver(digest)
    except DeliveryError as error:
        reason = str(error)
        for notice, attempts in claimed:
            _record_failed(notice.flag_id, attempts + 1, now or utcnow(), reason)
            report.failed[notice.flag_id] = reason
        logger.warning(
            "%s: notifying clinic %s failed: %s", digest.name, digest.clinic_slug, reason
        )
        return
    for notice, _ in claimed:
        if _record_sent(notice.flag_id, now or utcnow(), warning, in_digest=True):
            report.deleted.append(notice.flag_id)
        report.sent.append(notice.flag_id)
        report.digested.append(notice.flag_id)
    logger.info("%s: clinic %s notified", digest.name, digest.clinic_slug)


def send_pending(
    now: datetime | None = None,
    *,
    limit: int = BATCH,
    ignore_backoff: bool = False,
    stop: threading.Event | None = None,
) -> NotifyReport:
    """One pass over the outbox: send every notice that is due, record what happened.

    ``now`` (default: the clock) decides what is due and is the time recorded; tests pass
    a later time instead of waiting out a pause. ``ignore_backoff`` retries failed notices
    at once (an operator who just fixed the mail settings), but never one that another
    process is sending. ``stop`` ends the pass early, between two notices.

    A clinic past its :func:`notice_limit` gets the pass's remaining flags in one digest
    notice, sent at the end of the pass, except for the notices that never wait (a patient's
    first in the window, an escalation; see the module docstring).
    """
    db.ensure_schema()
    report = NotifyReport()
    report.deleted.extend(delete_erased_flags())
    per_clinic = notice_limit()
    told = _told_since((now or utcnow()) - flag_window())
    digests: dict[str, list[tuple[Notice, int]]] = {}
    attempted = 0
    for notice, attempts, state, announced in _pending():
        if not announced:
            if _mark_not_notified(notice.flag_id, attempts, notice.level, now or utcnow()):
                report.not_notified.append(notice.flag_id)
                if notice.erased:
                    report.deleted.extend(delete_erased_flags())
            continue
        if not notice.channels:
            report.unconfigured.append(notice.flag_id)
            continue
        if stop is not None and stop.is_set():
            break
        clock = now or utcnow()
        due = next_attempt_at(attempts, state, notice.created_at)
        if ignore_backoff and not _in_flight(state):
            due = notice.created_at
        if due > clock:
            report.waiting.append(notice.flag_id)
            continue
        if attempted >= limit:
            report.waiting.append(notice.flag_id)
            continue
        if not _claim(notice.flag_id, attempts, clock):
            report.taken.append(notice.flag_id)
            continue
        attempted += 1
        if not told.needs_own_notice(notice, per_clinic):
            digests.setdefault(notice.clinic_slug, []).append((notice, attempts))
            told.add(notice.clinic_slug, notice.sender_id, notice.level, own=False)
            continue
        if _send_one(notice, attempts, now, report):
            told.add(notice.clinic_slug, notice.sender_id, notice.level, own=True)
    for claimed in digests.values():
        _send_digest(claimed, now, report)
    return report


class NotifierThread:
    """Runs :func:`send_pending` every ``interval_seconds`` in a background thread.

    The web app starts it in its lifespan. A pass that fails (the database is away) is
    logged and the next one tries again; :meth:`stop` wakes the thread, which finishes
    the notice it is sending, if any, and exits.
    """

    def __init__(
        self,
        interval_seconds: float,
        more_passes: tuple[Callable[[threading.Event], object], ...] = (),
    ) -> None:
        if not interval_seconds > 0:
            raise ValueError("interval_seconds must be positive")
        self.interval_seconds = interval_seconds
        #: Other outboxes served by the same loop after the flags' (patients' reminders).
        self.more_passes = more_passes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the notifier was already started")
        self._thread = threading.Thread(target=self._run, name="risk-flag-notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2 * SMTP_TIMEOUT + sum(WEBHOOK_TIMEOUT)) -> None:
        """Stop and wait for the thread (at most ``timeout`` seconds: the daemon thread
        cannot keep the process alive anyway)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                send_pending(stop=self._stop)
            except Exception:  # noqa: BLE001 - the next pass must still happen
                logger.exception("A pass over the risk-flag outbox failed")
            for more in self.more_passes:
                if self._stop.is_set():
                    break
                try:
                    more(self._stop)
                except Exception:  # noqa: BLE001 - the next pass must still happen
                    logger.exception("A pass over an outbox failed")
            self._stop.wait(self.interval_seconds)
