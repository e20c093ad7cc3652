"""Clinics: their web origins, crisis numbers, branding, and the widget configuration.

A clinic is created once by its administrator (``python -m bot clinic create``) and then
read by the web app on every widget load. The demo clinic is created on first use with the
web app's own address as its origin, so ``make run`` works without any setup.

A clinic may also name where new risk flags are announced (``notify_emails``,
``webhook_url``) and which levels of flag are (``notify_levels``); :mod:`bot.clinics.notify` sends
those announcements. ``retention_days`` is how long conversations are kept (``python -m bot
purge``), and ``erasure_review`` makes a patient's "delete my data" a request for staff
instead of an erasure at once (:mod:`bot.privacy.erasure`).

Crisis settings - ``crisis_lines`` with the reply kinds each is named in, ``emergency_number``,
``response_time`` and ``peer_support_line`` - are what the crisis replies are built from
(:mod:`bot.safety.clinic_lines`), so a clinic outside the US can give its own numbers.
``care_team_contact`` and ``care_team_hours`` are what a patient who asks for a person is told.
``flag_actions`` are what staff choose from when they acknowledge a risk flag on the dashboard
(:mod:`bot.records.flag_actions`). ``timezone`` (an IANA name) is the zone the dashboard and
the PDF show the clinic's times in.
(:mod:`bot.records.flag_actions`). ``consent_text`` is what patients agree to before the chat
keeps anything (:mod:`bot.patient_consent`); each change of it is a new ``consent_version``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import patient_consent, settings
from bot.clinics import care_team
from bot.patient_tokens import normalize_origin
from bot.safety import clinic_lines
from bot.storage import db
from bot.storage.models import (
    DEFAULT_FLAG_ACTIONS,
    DEFAULT_QUIET_HOURS,
    DEFAULT_TIMEZONE,
    RISK_LEVELS,
    Clinic,
)

DEFAULTS_FILE = clinic_lines.DEFAULTS_FILE
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
NUMBER_PATTERN = clinic_lines.NUMBER_PATTERN
#: ``;kinds=…`` or ``;detail=…`` after ``NAME=NUMBER`` on the command line.
_LINE_OPTION = re.compile(r";\s*(kinds|detail)\s*=", re.IGNORECASE)
MAX_EMERGENCY_NUMBER = 32
#: Whitespace or control characters inside an address (see _refuse_hidden_characters).
_HIDDEN_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_QUIET_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")
MAX_NAME = 200
MAX_GREETING = 1000
MAX_CARE_TEAM_TEXT = care_team.MAX_CARE_TEAM_TEXT
MAX_NOTIFY_EMAILS = 20
MAX_URL = 2048
#: The longest retention period accepted: a century is a typo, not a policy.
MAX_RETENTION_DAYS = 36500
#: A flag action is a few words staff pick from a list, not a note (that has its own field).
MAX_FLAG_ACTION = 80
MAX_FLAG_ACTIONS = 20
MAX_TIMEZONE = 64
# Deliberately narrower than RFC 5322: an address that needs quoting or comments is far
# more likely a typo than a clinic's real inbox, and nothing here may reach an e-mail
# header unchecked (no spaces, commas, angle brackets or line breaks).
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class ClinicError(ValueError):
    """A clinic setting that cannot be used, said so that staff can correct it."""


@cache
def defaults() -> dict[str, Any]:
    """Default crisis settings, accent colour and greeting (``bot/content/clinic_defaults.yml``)."""
    return clinic_lines.load_defaults()


@dataclass(frozen=True)
class ClinicView:
    """A clinic's settings, detached from any database session."""

    slug: str
    name: str
    origins: list[str]
    crisis_lines: list[dict[str, str]]
    accent_color: str
    greeting: str
    allow_anonymous: bool
    patient_url: str | None
    notify_emails: list[str] = field(default_factory=list)
    webhook_url: str | None = None
    retention_days: int | None = None
    erasure_review: bool = False
    emergency_number: str = "911"
    response_time: str = "within one working day"
    notify_levels: list[str] = field(default_factory=lambda: ["urgent", "elevated", "request"])
    peer_support_line: bool = False
    care_team_contact: str | None = None
    care_team_hours: str | None = None
    flag_actions: list[str] = field(default_factory=lambda: list(DEFAULT_FLAG_ACTIONS))
    timezone: str = DEFAULT_TIMEZONE
    quiet_hours: str = DEFAULT_QUIET_HOURS
    #: The clinic's own consent text (``None``: the default) and its version.
    consent_text: str | None = None
    consent_version: int = 1

    @property
    def consent(self) -> patient_consent.ConsentText:
        """What the clinic's patients agree to before the chat keeps anything."""
        return patient_consent.consent_text(self.consent_version, self.consent_text)

    @property
    def notification_channels(self) -> list[str]:
        """How the clinic hears of a new risk flag without opening the dashboard, in words
        (empty: a flag, a suicide risk included, waits until someone looks)."""
        channels = [f"e-mail to {address}" for address in self.notify_emails]
        if self.webhook_url:
            channels.append(f"webhook {self.webhook_url}")
        return channels

    def crisis_settings(self) -> dict[str, Any]:
        """What the crisis replies are built from (:func:`bot.safety.clinic_lines.lines_for`)."""
        return {
            "emergency_number": self.emergency_number,
            "response_time": self.response_time,
            "crisis_lines": [dict(line) for line in self.crisis_lines],
            "peer_support_line": self.peer_support_line,
        }

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready data.

        The crisis settings are always there (a clinic outside the US must notice an
        emergency number of 911). The risk-flag notification, retention and erasure-review
        settings, and flag actions other than the default ones, appear only once a clinic has
        them, like a consent text of the clinic's own (with its version).
        """
        data: dict[str, Any] = {
            "slug": self.slug,
            "name": self.name,
            "origins": list(self.origins),
            "crisis_lines": [dict(line) for line in self.crisis_lines],
            "accent_color": self.accent_color,
            "greeting": self.greeting,
            "allow_anonymous": self.allow_anonymous,
            "patient_url": self.patient_url,
            "emergency_number": self.emergency_number,
            "response_time": self.response_time,
            "notify_levels": list(self.notify_levels),
            "peer_support_line": self.peer_support_line,
        }
        if self.care_team_contact:
            data["care_team_contact"] = self.care_team_contact
        if self.care_team_hours:
            data["care_team_hours"] = self.care_team_hours
        if self.notify_emails:
            data["notify_emails"] = list(self.notify_emails)
        if self.webhook_url:
            data["webhook_url"] = self.webhook_url
        if self.retention_days is not None:
            data["retention_days"] = self.retention_days
        if self.erasure_review:
            data["erasure_review"] = True
        if list(self.flag_actions) != list(DEFAULT_FLAG_ACTIONS):
            data["flag_actions"] = list(self.flag_actions)
        if self.timezone != DEFAULT_TIMEZONE:
            data["timezone"] = self.timezone
        if self.quiet_hours != DEFAULT_QUIET_HOURS:
            data["quiet_hours"] = self.quiet_hours
        if self.consent_text:
            data["consent_version"] = self.consent_version
            data["consent_text"] = self.consent_text
        return data


def _view(clinic: Clinic) -> ClinicView:
    return ClinicView(
        slug=clinic.slug,
        name=clinic.name,
        origins=list(clinic.origins or []),
        crisis_lines=[dict(line) for line in (clinic.crisis_lines or defaults()["crisis_lines"])],
        accent_color=clinic.accent_color or defaults()["accent_color"],
        greeting=clinic.greeting or defaults()["greeting"],
        allow_anonymous=bool(clinic.allow_anonymous),
        patient_url=clinic.patient_url,
        notify_emails=list(clinic.notify_emails or []),
        webhook_url=clinic.webhook_url,
        retention_days=clinic.retention_days,
        erasure_review=bool(clinic.erasure_review),
        emergency_number=clinic.emergency_number or defaults()["emergency_number"],
        response_time=clinic.response_time or defaults()["response_time"],
        notify_levels=_ordered_levels(clinic.notify_levels or []),
        peer_support_line=bool(clinic.peer_support_line),
        care_team_contact=clinic.care_team_contact,
        care_team_hours=clinic.care_team_hours,
        flag_actions=list(clinic.flag_actions or defaults()["flag_actions"]),
        timezone=clinic.timezone or defaults()["timezone"],
        quiet_hours=DEFAULT_QUIET_HOURS if clinic.quiet_hours is None else clinic.quiet_hours,
        consent_text=clinic.consent_text,
        consent_version=clinic.consent_version or 1,
    )


def _ordered_levels(levels: list[str]) -> list[str]:
    return [level for level in RISK_LEVELS if level in levels]


# ----------------------------------------------------------------------------- validation


def check_slug(slug: str) -> str:
    if not SLUG_PATTERN.fullmatch(slug or ""):
        raise ClinicError(
            f"{slug!r} is not a usable clinic slug: use 1-64 lower-case letters, digits and "
            "hyphens, starting and ending with a letter or digit."
        )
    return slug


def check_origins(origins: list[str]) -> list[str]:
    normalized: list[str] = []
    for origin in origins:
        try:
            value = normalize_origin(origin)
        except ValueError as error:
            raise ClinicError(str(error)) from error
        if value not in normalized:
            normalized.append(value)
    return normalized


def parse_crisis_line(text: str) -> dict[str, Any]:
    """A crisis line as typed on the command line.

    ``NAME=NUMBER``, e.g. ``"Samaritans=116 123"``, optionally followed by
    ``;kinds=KIND,KIND`` (the crisis replies that name the line) and ``;detail=TEXT`` (said
    after the number), e.g. ``"Domestic Violence Hotline=1-800-799-7233;kinds=violence;
    detail=or text START to 88788"``. The detail is the rest of its option, so it may hold
    commas and semicolons.
    """
    option = _LINE_OPTION.search(text)
    head, options = (text[: option.start()], text[option.start() :]) if option else (text, "")
    name, sep, number = head.rpartition("=")
    name, number = name.strip(), number.strip()
    if not sep or not name or not NUMBER_PATTERN.fullmatch(number):
        raise ClinicError(
            f"{text!r} is not a crisis line: write NAME=NUMBER, e.g. "
            "'Suicide & Crisis Lifeline=988', optionally followed by ;kinds=KIND,KIND "
            "and ;detail=TEXT."
        )
    if len(name) > MAX_NAME:
        raise ClinicError(f"Crisis line name is longer than {MAX_NAME} characters.")
    line: dict[str, Any] = {"name": name, "number": number}
    # Each option runs to the next ";kinds=" or ";detail=".
    starts = [match.start() for match in _LINE_OPTION.finditer(options)] + [len(options)]
    for start, end in zip(starts, starts[1:], strict=False):
        key, _, value = options[start + 1 : end].partition("=")
        key = key.strip().lower()
        if key in line:
            raise ClinicError(f"{text!r} gives {key} twice (NAME=NUMBER;kinds=…;detail=…).")
        line[key] = [kind.strip() for kind in value.split(",")] if key == "kinds" else value
    try:
        return clinic_lines.check_line(line)
    except clinic_lines.LineError as error:
        raise ClinicError(f"{text!r}: {error} (NAME=NUMBER;kinds=…;detail=…)") from error


def check_crisis_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every line usable: a name, a dialable number, and known reply kinds if any."""
    try:
        return clinic_lines.check_lines(lines)
    except clinic_lines.LineError as error:
        raise ClinicError(str(error)) from error


def check_emergency_number(number: str) -> str:
    """The number every urgent reply says first: dialable digits, at most 32 characters."""
    value = (number or "").strip()
    if len(value) > MAX_EMERGENCY_NUMBER or not NUMBER_PATTERN.fullmatch(value):
        raise ClinicError(f"{number!r} is not an emergency number like 911, 999 or 112.")
    return value


def check_response_time(text: str) -> str:
    """When the care team usually reads a flag, as it reads after "usually": one short line."""
    try:
        return clinic_lines.check_text("response time", text, clinic_lines.MAX_RESPONSE_TIME)
    except clinic_lines.LineError as error:
        raise ClinicError(f"{error} E.g. 'within one working day'.") from error


def check_notify_levels(levels: list[str]) -> list[str]:
    """The flag levels announced by e-mail or webhook, in order of urgency; urgent among them.

    Urgent flags are always announced: a clinic that wants no announcements at all removes
    its addresses and webhook instead, so that it cannot switch off urgent ones by accident.
    """
    unknown = [level for level in levels if level not in RISK_LEVELS]
    if unknown:
        raise ClinicError(f"{unknown[0]!r} is not a risk level; use {', '.join(RISK_LEVELS)}.")
    if "urgent" not in levels:
        raise ClinicError(
            "Urgent flags are always announced: include urgent in the levels "
            "(to announce nothing, remove the notification addresses and webhook)."
        )
    return _ordered_levels(levels)


def check_care_team_text(label: str, text: str) -> str:
    """How to reach the care team, or when: one line a patient can read on a phone."""
    value = " ".join((text or "").split())
    if not value or len(value) > MAX_CARE_TEAM_TEXT:
        raise ClinicError(
            f"The care team's {label} must be 1-{MAX_CARE_TEAM_TEXT} characters long, e.g. "
            + (
                "'call (555) 010-0100 or e-mail care@clinic.example'."
                if label == "contact"
                else "'Monday to Friday, 9 am to 5 pm'."
            )
        )
    return value


def check_flag_actions(actions: list[str]) -> list[str]:
    """What staff choose from when they acknowledge a flag: 1-20 distinct one-line actions.

    Spaces are tidied (a list shown in a menu); two actions differing only in case are the
    same action, because a report counting them would otherwise split them.
    """
    checked: list[str] = []
    for action in actions:
        value = " ".join((action or "").split())
        if not value or len(value) > MAX_FLAG_ACTION or _CONTROL_CHARACTERS.search(value):
            raise ClinicError(
                f"{action!r} is not a flag action: 1-{MAX_FLAG_ACTION} characters on one line, "
                "e.g. 'Called the patient'."
            )
        if value.casefold() in {known.casefold() for known in checked}:
            raise ClinicError(f"The flag action {value!r} is given twice.")
        checked.append(value)
    if not checked:
        raise ClinicError("A clinic needs at least one flag action, e.g. 'Called the patient'.")
    if len(checked) > MAX_FLAG_ACTIONS:
        raise ClinicError(f"At most {MAX_FLAG_ACTIONS} flag actions per clinic.")
    return checked


def check_timezone(name: str) -> str:
    """An IANA time zone name the dashboard can show times in ("Europe/London", "UTC")."""
    value = (name or "").strip()
    try:
        if not value or len(value) > MAX_TIMEZONE:
            raise ValueError(value)
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ClinicError(
            f"{name!r} is not a time zone: give an IANA name such as Europe/London or "
            "America/Los_Angeles."
        ) from None
    return value


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """``"21:00-08:00"`` (may span midnight) as its start and end; ``None`` for none (``""``).
    ``ValueError`` for anything else."""
    if not text or not text.strip():
        return None
    match = _QUIET_HOURS.fullmatch(text.strip())
    if match is None:
        raise ValueError("Quiet hours are HH:MM-HH:MM (24 hours), e.g. 21:00-08:00.")
    start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    return None if start == end else (start, end)


def check_quiet_hours(text: str) -> str:
    """When no reminder is sent, as stored: ``HH:MM-HH:MM`` or ``""`` for none."""
    try:
        return text.strip() if parse_quiet_hours(text) else ""
    except ValueError as error:
        raise ClinicError(str(error)) from error


def check_consent_text(consent_text: str) -> str:
    """A consent text as stored (:func:`bot.patient_consent.check_text`)."""
    try:
        return patient_consent.check_text(consent_text)
    except ValueError as error:
        raise ClinicError(str(error)) from None


def check_color(color: str) -> str:
    if not COLOR_PATTERN.fullmatch(color):
        raise ClinicError(f"{color!r} is not a colour like #2f6f73.")
    return color.lower()


def check_text(label: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise ClinicError(f"The {label} must be 1-{limit} characters long.")
    return value


def _refuse_hidden_characters(url: str) -> None:
    """``urlsplit`` silently drops tabs and line breaks, so it would check one address while
    another, which no browser can open, is stored: refuse whitespace and control characters."""
    if _HIDDEN_CHARACTERS.search(url.strip()):
        raise ClinicError(f"{url!r} contains spaces or control characters.")


def check_patient_url(url: str) -> str:
    from urllib.parse import urlsplit

    _refuse_hidden_characters(url)
    try:
        parts = urlsplit(url.strip())
    except ValueError as error:
        raise ClinicError(f"{url!r} is not a web page address: {error}") from error
    # "#" alone leaves urlsplit's fragment empty: look for the character itself.
    if parts.scheme not in {"http", "https"} or not parts.hostname or "#" in url:
        raise ClinicError(f"{url!r} is not a web page address (https://…, without a #fragment).")
    return url.strip()


def check_notify_emails(addresses: list[str]) -> list[str]:
    """The addresses told about new risk flags: checked, de-duplicated, domains lower-cased."""
    normalized: list[str] = []
    seen: set[str] = set()
    for address in addresses:
        value = address.strip()
        if not EMAIL_PATTERN.fullmatch(value):
            raise ClinicError(
                f"{address!r} is not an e-mail address like care-team@clinic.example."
            )
        local, _, domain = value.rpartition("@")
        value = f"{local}@{domain.lower()}"
        if value.lower() not in seen:
            seen.add(value.lower())
            normalized.append(value)
    if len(normalized) > MAX_NOTIFY_EMAILS:
        raise ClinicError(f"At most {MAX_NOTIFY_EMAILS} notification addresses per clinic.")
    return normalized


def check_retention_days(days: int) -> int | None:
    """Days to keep conversations; ``0`` means no retention period (kept until erased)."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise ClinicError(f"{days!r} is not a number of days.")
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise ClinicError(
            f"The retention period must be 1-{MAX_RETENTION_DAYS} days (or none), not {days}."
        )
    return days or None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str) -> str:
    """Where risk-flag announcements are POSTed: HTTPS, or plain HTTP on this machine only.

    Plain HTTP elsewhere would let anyone on the way read which patient has a new flag and
    replay the signed request; credentials in the address would end up in logs and listings.
    """
    from urllib.parse import urlsplit

    _refuse_hidden_characters(url)
    value = url.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise ClinicError(f"{url!r} is not a web address: {error}") from error
    if port == 0:
        raise ClinicError(f"{url!r} has port 0, which no server can listen on.")
    if parts.scheme not in {"http", "https"} or not parts.hostname or "#" in value:
        raise ClinicError(f"{url!r} is not a webhook address (https://…, without a #fragment).")
    if parts.username is not None or parts.password is not None:
        raise ClinicError(
            f"{url!r} contains a user name or password: webhook requests are signed instead."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ClinicError(f"{url!r} is not HTTPS: plain HTTP is allowed only to this machine.")
    if len(value) > MAX_URL:
        raise ClinicError(f"The webhook address is longer than {MAX_URL} characters.")
    return value


# ----------------------------------------------------------------------------- service


def _find(session: Session, slug: str) -> Clinic | None:
    return session.scalars(select(Clinic).where(Clinic.slug == slug)).one_or_none()


def create(
    slug: str,
    name: str,
    *,
    origins: list[str],
    crisis_lines: list[dict[str, str]] | None = None,
    accent_color: str | None = None,
    greeting: str | None = None,
    allow_anonymous: bool = False,
    patient_url: str | None = None,
    notify_emails: list[str] | None = None,
    webhook_url: str | None = None,
    retention_days: int | None = None,
    erasure_review: bool | None = None,
    emergency_number: str | None = None,
    response_time: str | None = None,
    notify_levels: list[str] | None = None,
    peer_support_line: bool | None = None,
    care_team_contact: str | None = None,
    care_team_hours: str | None = None,
    flag_actions: list[str] | None = None,
    timezone: str | None = None,
    quiet_hours: str | None = None,
) -> ClinicView:
    """Create a clinic; :class:`ClinicError` if the slug is taken or a setting is unusable.

    Crisis settings not given are the defaults' (the United States' numbers).
    """
    clinic = Clinic(
        slug=check_slug(slug),
        name=check_text("name", name, MAX_NAME),
        origins=check_origins(origins),
        crisis_lines=check_crisis_lines(crisis_lines or defaults()["crisis_lines"]),
        accent_color=check_color(accent_color or defaults()["accent_color"]),
        greeting=check_text("greeting", greeting, MAX_GREETING) if greeting else None,
        allow_anonymous=allow_anonymous,
        patient_url=check_patient_url(patient_url) if patient_url else None,
        notify_emails=check_notify_emails(notify_emails or []),
        webhook_url=check_webhook_url(webhook_url) if webhook_url else None,
        retention_days=check_retention_days(retention_days) if retention_days else None,
        erasure_review=bool(erasure_review),
        emergency_number=check_emergency_number(
            defaults()["emergency_number"] if emergency_number is None else emergency_number
        ),
        response_time=check_response_time(
            defaults()["response_time"] if response_time is None else response_time
        ),
        notify_levels=check_notify_levels(
            defaults()["notify_levels"] if notify_levels is None else notify_levels
        ),
        peer_support_line=bool(peer_support_line),
        care_team_contact=_care_team_text("contact", care_team_contact),
        care_team_hours=_care_team_text("hours", care_team_hours),
        flag_actions=check_flag_actions(
            defaults()["flag_actions"] if flag_actions is None else flag_actions
        ),
        timezone=check_timezone(defaults()["timezone"] if timezone is None else timezone),
        quiet_hours=check_quiet_hours(DEFAULT_QUIET_HOURS if quiet_hours is None else quiet_hours),
    )
    db.ensure_schema()
    with db.session_scope() as session:
        if _find(session, clinic.slug) is not None:
            raise ClinicError(f"A clinic with the slug {slug!r} already exists.")
        session.add(clinic)
        session.flush()
        return _view(clinic)


def update(
    slug: str,
    *,
    name: str | None = None,
    origins: list[str] | None = None,
    add_origins: list[str] | None = None,
    crisis_lines: list[dict[str, str]] | None = None,
    accent_color: str | None = None,
    greeting: str | None = None,
    allow_anonymous: bool | None = None,
    patient_url: str | None = None,
    notify_emails: list[str] | None = None,
    webhook_url: str | None = None,
    retention_days: int | None = None,
    erasure_review: bool | None = None,
    emergency_number: str | None = None,
    response_time: str | None = None,
    notify_levels: list[str] | None = None,
    peer_support_line: bool | None = None,
    care_team_contact: str | None = None,
    care_team_hours: str | None = None,
    flag_actions: list[str] | None = None,
    timezone: str | None = None,
    quiet_hours: str | None = None,
    consent_text: str | None = None,
) -> ClinicView:
    """Change the given settings of a clinic; the others stay as they are.

    A ``consent_text`` other than the current one is a new version of it: every patient is
    asked to agree again before the chat keeps anything more of theirs.

    ``notify_emails=[]`` and ``webhook_url=""`` switch those announcements off;
    ``retention_days=0`` removes the retention period; ``care_team_contact=""`` and
    ``care_team_hours=""`` remove those details.
    """
    db.ensure_schema()
    with db.session_scope() as session:
        clinic = _find(session, slug)
        if clinic is None:
            raise ClinicError(f"No clinic with the slug {slug!r}.")
        if name is not None:
            clinic.name = check_text("name", name, MAX_NAME)
        if origins is not None:
            clinic.origins = check_origins(origins)
        if add_origins:
            clinic.origins = check_origins([*(clinic.origins or []), *add_origins])
        if crisis_lines is not None:
            clinic.crisis_lines = check_crisis_lines(crisis_lines)
        if accent_color is not None:
            clinic.accent_color = check_color(accent_color)
        if greeting is not None:
            clinic.greeting = check_text("greeting", greeting, MAX_GREETING)
        if allow_anonymous is not None:
            clinic.allow_anonymous = allow_anonymous
        if patient_url is not None:
            clinic.patient_url = check_patient_url(patient_url) if patient_url else None
        if notify_emails is not None:
            clinic.notify_emails = check_notify_emails(notify_emails)
        if webhook_url is not None:
            clinic.webhook_url = check_webhook_url(webhook_url) if webhook_url else None
        if retention_days is not None:
            clinic.retention_days = check_retention_days(retention_days)
        if erasure_review is not None:
            clinic.erasure_review = erasure_review
        if emergency_number is not None:
            clinic.emergency_number = check_emergency_number(emergency_number)
        if response_time is not None:
            clinic.response_time = check_response_time(response_time)
        if notify_levels is not None:
            clinic.notify_levels = check_notify_levels(notify_levels)
        if peer_support_line is not None:
            clinic.peer_support_line = peer_support_line
        if care_team_contact is not None:
            clinic.care_team_contact = _care_team_text("contact", care_team_contact)
        if care_team_hours is not None:
            clinic.care_team_hours = _care_team_text("hours", care_team_hours)
        if flag_actions is not None:
            # Acknowledgements already made keep the action they recorded, whatever the list.
            clinic.flag_actions = check_flag_actions(flag_actions)
        if timezone is not None:
            clinic.timezone = check_timezone(timezone)
        if quiet_hours is not None:
            clinic.quiet_hours = check_quiet_hours(quiet_hours)
        if consent_text is not None:
            checked = check_consent_text(consent_text)
            if checked != (clinic.consent_text or patient_consent.default_text()):
                clinic.consent_text = checked
                clinic.consent_version = (clinic.consent_version or 1) + 1
        session.flush()
        return _view(clinic)


def get_clinic(slug: str) -> ClinicView | None:
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        clinic = _find(session, slug)
        return None if clinic is None else _view(clinic)


def _care_team_text(label: str, text: str | None) -> str | None:
    """A care-team detail checked, or None when not given or given empty (removed)."""
    return check_care_team_text(label, text) if text else None


def list_clinics() -> list[ClinicView]:
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        return [_view(c) for c in session.scalars(select(Clinic).order_by(Clinic.slug))]


def demo_origins() -> list[str]:
    """The web app's public origin, and its localhost/127.0.0.1 twin for local use."""
    origin = normalize_origin(settings.public_web_url())
    twins = {"//localhost": "//127.0.0.1", "//127.0.0.1": "//localhost"}
    for name, twin in twins.items():
        if name + ":" in origin or origin.endswith(name):
            return [origin, origin.replace(name, twin, 1)]
    return [origin]


def demo_clinic(session: Session) -> Clinic:
    """The demo clinic in this session, created (anonymous chats allowed) if missing.

    The web app's current origins are added to an existing demo clinic if it lacks them.
    """
    slug = settings.demo_clinic_slug()
    clinic = _find(session, slug)
    if clinic is None:
        clinic = Clinic(
            slug=slug,
            name=defaults()["demo_clinic_name"],
            origins=demo_origins(),
            crisis_lines=list(defaults()["crisis_lines"]),
            accent_color=defaults()["accent_color"],
            emergency_number=defaults()["emergency_number"],
            response_time=defaults()["response_time"],
            notify_levels=list(defaults()["notify_levels"]),
            peer_support_line=bool(defaults()["peer_support_line"]),
            care_team_contact=defaults()["demo_care_team_contact"],
            care_team_hours=defaults()["demo_care_team_hours"],
            flag_actions=list(defaults()["flag_actions"]),
            allow_anonymous=True,
        )
        session.add(clinic)
        session.flush()
    else:
        # The web app may have moved (another port, a real host name) since the demo clinic
        # was created; its current address must keep working.
        # A demo clinic from before clinics had settings (no origins) becomes a real demo.
        if not clinic.origins:
            clinic.allow_anonymous = True
        missing = [origin for origin in demo_origins() if origin not in (clinic.origins or [])]
        if missing:
            clinic.origins = [*(clinic.origins or []), *missing]
    return clinic


def ensure_demo_clinic() -> ClinicView | None:
    """The demo clinic, set up if needed; in a deployment (demo mode off) only one that
    already exists, untouched, or None.

    Every widget load asks for it, so the usual case is a plain read; the write transaction
    (which takes SQLite's write lock) is only opened when something is missing. With demo
    mode off nothing is created or changed: a demo clinic allows anonymous chats from the
    web app's own address, which a deployment must not offer.
    """
    current = get_clinic(settings.demo_clinic_slug())
    if not settings.demo_mode():
        return current
    if current is not None and current.origins and set(demo_origins()) <= set(current.origins):
        return current
    with db.session_scope() as session:
        return _view(demo_clinic(session))


#: Lines named only in replies about a slip (harm reduction, such as Never Use Alone): not
#: for the widget's "Get help now", which is for a crisis and must fit on one screen.
SLIP_ONLY_KINDS = frozenset({"lapse"})


def help_now_lines(lines: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The lines the widget lists under "Get help now": every crisis line, in the clinic's
    order, without the ones only a reply about a slip names. Which reply names which line is
    the Rasa server's business, so kinds are left out."""
    return [
        {key: line[key] for key in ("name", "number", "detail") if key in line}
        for line in lines
        if not line.get("kinds") or not set(line["kinds"]) <= SLIP_ONLY_KINDS
    ]


def embed_tag(slug: str) -> str:
    """The one tag a clinic pastes into its pages (the slug is checked, so it needs no escaping)."""
    return (
        f'<script src="{settings.widget_script_url()}" data-clinic="{check_slug(slug)}" '
        "async></script>"
    )


def widget_config(slug: str) -> dict[str, Any] | None:
    """What the widget needs before it can show anything: branding and crisis lines first."""
    if slug == settings.demo_clinic_slug():
        clinic = ensure_demo_clinic()
    else:
        clinic = get_clinic(slug)
    if clinic is None:
        return None
    web = settings.public_web_url()
    return {
        "clinic": clinic.slug,
        "name": clinic.name,
        "accent_color": clinic.accent_color,
        "greeting": clinic.greeting,
        "allow_anonymous": clinic.allow_anonymous,
        "crisis_lines": help_now_lines(clinic.crisis_lines),
        "socket_url": settings.public_rasa_url(),
        "socket_path": "/socket.io",
        "anonymous_session_url": f"{web}/api/clinics/{clinic.slug}/anonymous-session",
        "consent": clinic.consent.as_dict(),
    }
