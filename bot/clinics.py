"""Clinics: their web origins, crisis numbers, branding, and the widget configuration.

A clinic is created once by its administrator (``python -m bot clinic create``) and then
read by the web app on every widget load. The demo clinic is created on first use with the
web app's own address as its origin, so ``make run`` works without any setup.

A clinic may also name where new risk flags are announced (``notify_emails``,
``webhook_url``); :mod:`bot.notify` sends those announcements. ``retention_days`` is how long
conversations are kept (``python -m bot purge``), and ``erasure_review`` makes a patient's
"delete my data" a request for staff instead of an erasure at once (:mod:`bot.erasure`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import settings
from bot.access import normalize_origin
from bot.storage import db
from bot.storage.models import Clinic

DEFAULTS_FILE = settings.PROJECT_ROOT / "bot" / "content" / "clinic_defaults.yml"
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
NUMBER_PATTERN = re.compile(r"^\+?[0-9][0-9 ().-]{0,30}$")
#: Whitespace or control characters inside an address (see _refuse_hidden_characters).
_HIDDEN_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")
MAX_NAME = 200
MAX_GREETING = 1000
MAX_NOTIFY_EMAILS = 20
MAX_URL = 2048
#: The longest retention period accepted: a century is a typo, not a policy.
MAX_RETENTION_DAYS = 36500
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
    """Default crisis lines, accent colour and greeting (``bot/content/clinic_defaults.yml``)."""
    return yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))


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

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready data.

        The risk-flag notification, retention and erasure-review settings appear only once a
        clinic has them, so the output of clinics without them keeps the shape it always had.
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
        }
        if self.notify_emails:
            data["notify_emails"] = list(self.notify_emails)
        if self.webhook_url:
            data["webhook_url"] = self.webhook_url
        if self.retention_days is not None:
            data["retention_days"] = self.retention_days
        if self.erasure_review:
            data["erasure_review"] = True
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
    )


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


def parse_crisis_line(text: str) -> dict[str, str]:
    """``"Name=number"`` as typed on the command line, e.g. ``"Samaritans=116 123"``."""
    name, sep, number = text.rpartition("=")
    name, number = name.strip(), number.strip()
    if not sep or not name or not NUMBER_PATTERN.fullmatch(number):
        raise ClinicError(
            f"{text!r} is not a crisis line: write NAME=NUMBER, e.g. "
            "'Suicide & Crisis Lifeline=988'."
        )
    if len(name) > MAX_NAME:
        raise ClinicError(f"Crisis line name is longer than {MAX_NAME} characters.")
    return {"name": name, "number": number}


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
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.fragment:
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
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.fragment:
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
) -> ClinicView:
    """Create a clinic; :class:`ClinicError` if the slug is taken or a setting is unusable."""
    clinic = Clinic(
        slug=check_slug(slug),
        name=check_text("name", name, MAX_NAME),
        origins=check_origins(origins),
        crisis_lines=list(crisis_lines or defaults()["crisis_lines"]),
        accent_color=check_color(accent_color or defaults()["accent_color"]),
        greeting=check_text("greeting", greeting, MAX_GREETING) if greeting else None,
        allow_anonymous=allow_anonymous,
        patient_url=check_patient_url(patient_url) if patient_url else None,
        notify_emails=check_notify_emails(notify_emails or []),
        webhook_url=check_webhook_url(webhook_url) if webhook_url else None,
        retention_days=check_retention_days(retention_days) if retention_days else None,
        erasure_review=bool(erasure_review),
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
) -> ClinicView:
    """Change the given settings of a clinic; the others stay as they are.

    ``notify_emails=[]`` and ``webhook_url=""`` switch those announcements off;
    ``retention_days=0`` removes the retention period.
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
            clinic.crisis_lines = list(crisis_lines)
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
        session.flush()
        return _view(clinic)


def get_clinic(slug: str) -> ClinicView | None:
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        clinic = _find(session, slug)
        return None if clinic is None else _view(clinic)


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


def ensure_demo_clinic() -> ClinicView:
    """The demo clinic, set up if needed.

    Every widget load asks for it, so the usual case is a plain read; the write transaction
    (which takes SQLite's write lock) is only opened when something is missing.
    """
    current = get_clinic(settings.demo_clinic_slug())
    if current is not None and current.origins and set(demo_origins()) <= set(current.origins):
        return current
    with db.session_scope() as session:
        return _view(demo_clinic(session))


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
        "crisis_lines": clinic.crisis_lines,
        "socket_url": settings.public_rasa_url(),
        "socket_path": "/socket.io",
        "anonymous_session_url": f"{web}/api/clinics/{clinic.slug}/anonymous-session",
    }
