"""Therapists' accounts, sign-in with throttling, and server-side dashboard sessions.

Design choices that the tests hold us to:

- Passwords are argon2id hashes (argon2-cffi's defaults), upgraded on the next sign-in when
  the defaults change. An unknown address is checked against a dummy hash, so that the time
  an answer takes does not tell whether an account exists.
- Failed sign-ins are counted per lower-cased address, existing or not: from the fourth
  attempt each one waits a little longer, and five failures within the window pause sign-in
  for that address. Every failure gets the same message (:data:`LOGIN_FAILED`).
- A session is a random value in a cookie; the database keeps only its SHA-256, so reading
  the table does not let anyone take a session over. Logging out, 15 idle minutes and 12
  hours in all end it in the database, whatever the browser still holds.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import audit, settings
from bot.storage import db
from bot.storage.models import Clinic, LoginThrottle, Therapist, TherapistSession, utcnow

MIN_PASSWORD_LENGTH = 12
#: Far beyond any real passphrase; stops a megabyte "password" from costing a hash each time.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Failures after which each further attempt is slowed, and after which sign-in is paused.
SLOW_AFTER = 3
LOCK_AFTER = 5
MAX_DELAY_STEPS = 5
#: The one answer to every failed sign-in, whatever the reason.
LOGIN_FAILED = (
    "That e-mail and password did not match, or sign-in is paused after several failed "
    "attempts. Try again later."
)
#: Session cookies longer than this are not ours; no need to hash them.
_MAX_COOKIE_LENGTH = 200


class TherapistError(ValueError):
    """An account that cannot be created as asked, said so that an administrator can fix it."""


@dataclass(frozen=True)
class TherapistView:
    """A therapist's account, detached from the database session (never the hash)."""

    id: int
    email: str
    clinic_id: int
    clinic_slug: str
    clinic_name: str
    is_admin: bool


@dataclass(frozen=True)
class SignedIn:
    """A live session: whose it is and the token its forms must carry."""

    therapist: TherapistView
    csrf_token: str


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in: ``cookie`` is set (and only then) when it succeeded."""

    therapist: TherapistView | None
    cookie: str | None
    csrf_token: str | None

    @property
    def ok(self) -> bool:
        return self.cookie is not None


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash of a random password, verified for unknown addresses (and never matched)."""
    return _hasher().hash(secrets.token_urlsafe(32))


def _view(therapist: Therapist) -> TherapistView:
    return TherapistView(
        id=therapist.id,
        email=therapist.email,
        clinic_id=therapist.clinic_id,
        clinic_slug=therapist.clinic.slug,
        clinic_name=therapist.clinic.name,
        is_admin=bool(therapist.is_admin),
    )


def normalise_email(email: str) -> str:
    """The key under which an address is stored and throttled: trimmed and lower-cased."""
    return email.strip().lower()


def check_email(email: str) -> str:
    value = normalise_email(email)
    if len(value) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(value):
        raise TherapistError(f"{email!r} is not an e-mail address.")
    return value


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise TherapistError(
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            "(a few unrelated words make a good one)."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise TherapistError(f"The password is longer than {MAX_PASSWORD_LENGTH} characters.")
    return password


# ----------------------------------------------------------------------------- accounts


def create(clinic_slug: str, email: str, password: str, *, admin: bool = False) -> TherapistView:
    """Add a therapist (or clinic administrator) to a clinic.

    :class:`TherapistError` for an unknown clinic, an address already in use (by any
    clinic: addresses sign in without naming their clinic) or a password that is too short.
    """
    address = check_email(email)
    password_hash = _hasher().hash(check_password(password))
    db.ensure_schema()
    try:
        with db.session_scope() as session:
            clinic = session.scalars(select(Clinic).where(Clinic.slug == clinic_slug)).first()
            if clinic is None:
                raise TherapistError(f"No clinic with the slug {clinic_slug!r}.")
            if _find(session, address) is not None:
                raise TherapistError(f"An account for {address} already exists.")
            therapist = Therapist(
                clinic_id=clinic.id,
                clinic=clinic,
                email=address,
                password_hash=password_hash,
                is_admin=admin,
                created_at=utcnow(),
            )
            session.add(therapist)
            session.flush()
            return _view(therapist)
    except IntegrityError as error:  # created by someone else between the check and the insert
        raise TherapistError(f"An account for {address} already exists.") from error


def _find(session: Session, address: str) -> Therapist | None:
    return session.scalars(select(Therapist).where(Therapist.email == address)).first()


def get(email: str) -> TherapistView | None:
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        therapist = _find(session, normalise_email(email))
        return _view(therapist) if therapist is not None else None


# ----------------------------------------------------------------------------- throttling


def _window() -> timedelta:
    return timedelta(seconds=settings.login_window())


def _live_failures(row: LoginThrottle | None, now: datetime) -> int:
    """Failures that still count: none once the window or an expired pause is over."""
    if row is None:
        return 0
    if row.locked_until is not None and now >= row.locked_until:
        return 0
    if row.locked_until is None and now - row.first_failure_at > _window():
        return 0
    return row.failures


def _locked(row: LoginThrottle | None, now: datetime) -> bool:
    return row is not None and row.locked_until is not None and now < row.locked_until


def login_delay(email: str) -> float:
    """Seconds to wait before checking this address's password (0 for the first attempts).

    The wait happens in the caller (``asyncio.sleep`` in the web app) before the password is
    checked, so guessing gets slower without tying up a worker thread.
    """
    key = normalise_email(email)[:MAX_EMAIL_LENGTH]
    db.ensure_schema()
    now = utcnow()
    with db.session_scope(write=False) as session:
        row = session.get(LoginThrottle, key)
        if _locked(row, now):
            return 0.0
        failures = _live_failures(row, now)
    if failures < SLOW_AFTER:
        return 0.0
    step = settings.login_delay_step()
    return min(step * (failures - SLOW_AFTER + 1), step * MAX_DELAY_STEPS)


def _count_failure(session: Session, key: str, now: datetime) -> None:
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0, first_failure_at=now, locked_until=None)
        session.add(row)
    elif _live_failures(row, now) == 0:
        row.failures = 0
        row.first_failure_at = now
        row.locked_until = None
    row.failures += 1
    if row.failures >= LOCK_AFTER:
        row.locked_until = now + timedelta(seconds=settings.login_lock())


# ----------------------------------------------------------------------------- sign-in


def session_key(cookie: str) -> str:
    """What the database stores for a session cookie's value."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def authenticate(
    email: str, password: str, *, ip: str | None = None, user_agent: str | None = None
) -> LoginResult:
    """Check a sign-in, record it in the audit log, and start a session if it succeeded.

    The password is checked outside any write transaction (argon2 is slow on purpose and
    must not hold SQLite's write lock); the throttle row and the new session are written
    afterwards in one transaction.
    """
    key = normalise_email(email)[:MAX_EMAIL_LENGTH]
    db.ensure_schema()
    now = utcnow()
    with db.session_scope(write=False) as session:
        locked = _locked(session.get(LoginThrottle, key), now)
        therapist = _find(session, key)
        stored = therapist.password_hash if therapist is not None else None
        view = _view(therapist) if therapist is not None else None
        disabled = therapist is not None and therapist.disabled_at is not None

    matched = False
    if len(password) <= MAX_PASSWORD_LENGTH:
        try:
            matched = _hasher().verify(stored or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            matched = False
    ok = matched and not locked and not disabled and view is not None

    cookie = csrf_token = None
    for attempt in range(2):
        try:
            with db.session_scope() as session:
                if not ok:
                    if not locked:  # attempts during a pause do not prolong it
                        _count_failure(session, key, utcnow())
                    break
                throttle = session.get(LoginThrottle, key)
                if throttle is not None:
                    session.delete(throttle)
                row = _find(session, key)
                assert row is not None
                if stored and _hasher().check_needs_rehash(stored):
                    row.password_hash = _hasher().hash(password)
                started = utcnow()
                row.last_login_at = started
                cookie = secrets.token_urlsafe(32)
                csrf_token = secrets.token_urlsafe(32)
                session.add(
                    TherapistSession(
                        id=session_key(cookie),
                        therapist_id=row.id,
                        csrf_token=csrf_token,
                        created_at=started,
                        last_seen_at=started,
                        expires_at=started + timedelta(seconds=settings.dashboard_max_age()),
                        ip=ip,
                        user_agent=(user_agent or "")[:300] or None,
                    )
                )
            break
        except IntegrityError:  # another process inserted the same throttle row first
            if attempt:
                raise

    if ok:
        audit.record("login", actor=key, clinic_id=view.clinic_id if view else None, ip=ip)
        return LoginResult(therapist=view, cookie=cookie, csrf_token=csrf_token)
    reason = "locked" if locked else "disabled" if disabled and matched else "bad_credentials"
    audit.record(
        "login",
        actor=key,
        clinic_id=view.clinic_id if view else None,
        outcome="failed",
        ip=ip,
        detail={"reason": reason},
    )
    return LoginResult(therapist=None, cookie=None, csrf_token=None)


# ----------------------------------------------------------------------------- sessions


def resolve_session(cookie: str | None, *, ip: str | None = None) -> SignedIn | None:
    """The live session behind a cookie, touched; ``None`` if there is none.

    A session found idle too long, too old, or of a disabled account is ended here and
    recorded as ``session_expired`` (after its transaction, so the audit write does not wait
    for our own lock).
    """
    if not cookie or len(cookie) > _MAX_COOKIE_LENGTH:
        return None
    db.ensure_schema()
    now = utcnow()
    idle = timedelta(seconds=settings.dashboard_idle_timeout())
    max_age = timedelta(seconds=settings.dashboard_max_age())
    reason: str | None = None
    with db.session_scope() as session:
        row = session.get(TherapistSession, session_key(cookie))
        if row is None or row.ended_at is not None:
            return None
        view = _view(row.therapist)
        if row.therapist.disabled_at is not None:
            reason = "disabled"
        elif now - row.last_seen_at >= idle:
            reason = "idle"
        elif now >= row.expires_at or now - row.created_at >= max_age:
            reason = "max_age"
        if reason is not None:
            row.ended_at = now
        else:
            row.last_seen_at = now
            signed_in = SignedIn(therapist=view, csrf_token=row.csrf_token)
    if reason is not None:
        audit.record(
            "session_expired",
            actor=view.email,
            clinic_id=view.clinic_id,
            ip=ip,
            detail={"reason": reason},
        )
        return None
    return signed_in


def end_session(cookie: str | None, *, ip: str | None = None) -> TherapistView | None:
    """Log out: end the cookie's session in the database and record it.

    Returns whose session it was, or ``None`` if the cookie named no live session.
    """
    if not cookie or len(cookie) > _MAX_COOKIE_LENGTH:
        return None
    db.ensure_schema()
    with db.session_scope() as session:
        row = session.get(TherapistSession, session_key(cookie))
        if row is None or row.ended_at is not None:
            return None
        row.ended_at = utcnow()
        view = _view(row.therapist)
    audit.record("logout", actor=view.email, clinic_id=view.clinic_id, ip=ip)
    return view
