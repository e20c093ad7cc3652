"""Therapists' accounts, sign-in with throttling, server-side dashboard sessions, and ending
a person's access (disable, new password, end sessions).

Design choices that the tests hold us to:

- Passwords are argon2id hashes (argon2-cffi's defaults), upgraded on the next sign-in when
  the defaults change. An unknown address is checked against a dummy hash, so that the time
  an answer takes does not tell whether an account exists.
- Every sign-in attempt is counted before its password is checked, in one transaction that
  holds the counters' rows (:func:`reserve`): the address typed (existing or not), that
  address from the attempt's network, the network, and the whole app. Each gives an attempt
  its turn; waits grow with attempts, and an attempt whose turn is more than a few seconds
  away is refused without its password being checked. An address is never locked: the long
  waits fall on the guesser's own network, so its clinician can still sign in from anywhere
  else, at worst half a minute later. Every failure gets the same message (:data:`LOGIN_FAILED`).
- A session is a random value in a cookie; the database keeps only its SHA-256, so reading
  the table does not let anyone take a session over. Logging out, 15 idle minutes and 12
  hours in all end it in the database, whatever the browser still holds. Disabling an account
  or setting its password ends all its sessions in the same transaction.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import settings
from bot.clinics import audit
from bot.storage import db
from bot.storage.models import Clinic, LoginThrottle, Therapist, TherapistSession, utcnow

MIN_PASSWORD_LENGTH = 12
#: Far beyond any real passphrase; stops a megabyte "password" from costing a hash each time.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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
#
# Every sign-in attempt is counted on four rows of ``login_throttle`` before its password is
# checked: the address typed (lower-cased), that address from the network the attempt comes
# from, the network, and one row for the whole app. Each row holds how many attempts it counted
# in the window and the earliest moment the next one may be checked (``locked_until``). Taking
# the rows with a row lock (SQLite: the write lock of ``BEGIN IMMEDIATE``) and counting in the
# same short transaction is what makes simultaneous attempts queue for their turn instead of
# all reading "no failures yet".


@dataclass(frozen=True)
class _Policy:
    """How one kind of throttle row spaces the attempts it counts."""

    #: Attempts within the window that need no spacing.
    free: int
    #: Whether the gap doubles with each further attempt (else it stays one base gap).
    doubling: bool
    #: The first gap, in delay steps (``COMPANION_LOGIN_DELAY_SECONDS``).
    base_steps: float
    #: The longest gap, in delay steps; ``None``: ``COMPANION_LOGIN_LOCK_SECONDS``.
    max_steps: float | None

    def gap(self, counted: int, step: float) -> float:
        """Seconds from the ``counted``-th attempt's turn to the next attempt's earliest turn."""
        if counted < self.free:
            return 0.0
        factor = 2.0 ** min(counted - self.free, 30) if self.doubling else 1.0
        longest = settings.login_lock() if self.max_steps is None else step * self.max_steps
        return min(step * self.base_steps * factor, longest)


#: One address from one network: three attempts at once, then waits of one step, two, four …
#: up to ``COMPANION_LOGIN_LOCK_SECONDS``. A burst gets five passwords checked; whoever keeps
#: guessing from there waits ever longer, and only they do.
PAIR_POLICY = _Policy(free=3, doubling=True, base_steps=1, max_steps=None)
#: One address from anywhere: guessing spread over many networks is spaced too, but never by
#: more than half a minute, so that a clinician's own sign-in is delayed, never refused for good.
ADDRESS_POLICY = _Policy(free=10, doubling=True, base_steps=1, max_steps=30)
#: One network (an IPv4 address, an IPv6 /64) across all addresses: trying many addresses
#: from one place gets the same doubling waits after twenty attempts.
NETWORK_POLICY = _Policy(free=20, doubling=True, base_steps=1, max_steps=None)
#: The whole app: beyond 100 attempts in a window, passwords are checked at most twice a delay
#: step, so a flood from many networks can neither guess faster nor spend the processor on
#: argon2; it can only slow everyone's sign-in down.
GLOBAL_POLICY = _Policy(free=100, doubling=False, base_steps=0.5, max_steps=None)
#: Attempts on an address from one network before the waits start.
SLOW_AFTER = PAIR_POLICY.free
#: The longest an attempt waits for its turn, in delay steps; one whose turn is further away
#: is refused without its password being checked (and is not counted).
MAX_DELAY_STEPS = 5
#: Keys other than an address's start with capitals: address keys are lower-cased, so nothing
#: typed into the e-mail field can name (and use up) a network's or the app's counter.
NETWORK_KEY_PREFIX = "NET "
PAIR_KEY_PREFIX = "PAIR "
GLOBAL_KEY = "ALL"


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt's turn, taken before its password is checked.

    ``wait`` is how long until that turn; ``refused`` means it is too far away, and the
    password must not be checked at all.
    """

    address_key: str
    network_key: str
    wait: float
    refused: bool

    @property
    def pair_key(self) -> str:
        return pair_key(self.address_key, self.network_key)


def _window() -> timedelta:
    return timedelta(seconds=settings.login_window())


def network_key(ip: str | None) -> str:
    """The throttle key of the network an attempt comes from.

    An IPv6 client usually holds a whole /64, so that is one network; an IPv4-mapped address
    is its IPv4 address.
    """
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return NETWORK_KEY_PREFIX + "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return NETWORK_KEY_PREFIX + str(address.ipv4_mapped)
        return NETWORK_KEY_PREFIX + str(ipaddress.ip_network(f"{address}/64", strict=False))
    return NETWORK_KEY_PREFIX + str(address)


def pair_key(address_key: str, net_key: str) -> str:
    """The key of one address from one network (hashed: an address alone may fill the column)."""
    digest = hashlib.sha256(f"{address_key}\0{net_key}".encode()).hexdigest()
    return PAIR_KEY_PREFIX + digest


def _policy(key: str) -> _Policy:
    if key == GLOBAL_KEY:
        return GLOBAL_POLICY
    if key.startswith(NETWORK_KEY_PREFIX):
        return NETWORK_POLICY
    if key.startswith(PAIR_KEY_PREFIX):
        return PAIR_POLICY
    return ADDRESS_POLICY


def _live(row: LoginThrottle, now: datetime) -> None:
    """Forget a row's count once its window is over and no wait is pending."""
    waiting = row.locked_until is not None and now < row.locked_until
    if not waiting and now - row.first_failure_at > _window():
        row.failures = 0
        row.first_failure_at = now
        row.locked_until = None


def _locked_rows(session: Session, keys: list[str], now: datetime) -> list[LoginThrottle]:
    """The rows of ``keys``, made if missing, each locked until the transaction ends.

    Always in sorted order, so that two attempts never wait for each other's rows.
    """
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = []
    for key in sorted(keys):
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, first_failure_at=now, locked_until=None)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        rows.append(
            session.execute(
                select(LoginThrottle)
                .where(LoginThrottle.key == key)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
        )
    return rows


def reserve(email: str, ip: str | None = None) -> Attempt:
    """Count an attempt and give it its turn: the latest of the earliest turns its four
    counters allow. Counted first, checked later: a successful sign-in gives the count back
    (:func:`authenticate`)."""
    address_key = normalise_email(email)[:MAX_EMAIL_LENGTH]
    net_key = network_key(ip)
    db.ensure_schema()
    step = settings.login_delay_step()
    keys = [GLOBAL_KEY, net_key, pair_key(address_key, net_key), address_key]
    with db.session_scope() as session:
        now = utcnow()
        rows = _locked_rows(session, keys, now)
        turn = now
        for row in rows:
            _live(row, now)
            if row.locked_until is not None and row.locked_until > turn:
                turn = row.locked_until
        wait = (turn - now).total_seconds()
        if wait > step * MAX_DELAY_STEPS:
            return Attempt(address_key, net_key, wait=wait, refused=True)
        for row in rows:
            row.failures += 1
            gap = _policy(row.key).gap(row.failures, step)
            if gap > 0:
                row.locked_until = turn + timedelta(seconds=gap)
    return Attempt(address_key, net_key, wait=wait, refused=False)


def _release(session: Session, attempt: Attempt) -> None:
    """After a successful sign-in: the address's failures are forgotten, and the attempt is
    no longer counted against its network or the app.

    The rows are locked in the same sorted order as :func:`reserve` takes them; any other
    order lets two sign-ins wait for each other on PostgreSQL.
    """
    forget = {attempt.address_key, attempt.pair_key}
    keys = sorted({GLOBAL_KEY, attempt.network_key, *forget})
    for key in keys:
        row = session.execute(
            select(LoginThrottle)
            .where(LoginThrottle.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if row is None:
            continue
        if key in forget:
            session.delete(row)
        elif row.failures > 0:
            row.failures -= 1
    session.flush()


# ----------------------------------------------------------------------------- sign-in


def session_key(cookie: str) -> str:
    """What the database stores for a session cookie's value."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def authenticate(
    email: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    attempt: Attempt | None = None,
) -> LoginResult:
    """Check a sign-in, record it in the audit log, and start a session if it succeeded.

    ``attempt`` is the turn :func:`reserve` gave this sign-in, already waited for (the web
    app waits with ``asyncio.sleep``); without one, it is taken and waited for here. The
    password is checked outside any transaction (argon2 is slow on purpose and must not hold
    SQLite's write lock), and only when the attempt was not refused.
    """
    if attempt is None:
        attempt = reserve(email, ip)
        if not attempt.refused and attempt.wait > 0:
            time.sleep(attempt.wait)
    key = attempt.address_key
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        therapist = _find(session, key)
        stored = therapist.password_hash if therapist is not None else None
        view = _view(therapist) if therapist is not None else None
        disabled = therapist is not None and therapist.disabled_at is not None

    matched = False
    if not attempt.refused and len(password) <= MAX_PASSWORD_LENGTH:
        try:
            matched = _hasher().verify(stored or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            matched = False
    ok = matched and not disabled and view is not None

    cookie = csrf_token = None
    if ok:
        with db.session_scope() as session:
            # The account's row before the throttle rows: the order every writer locks them in.
            row = session.scalars(
                select(Therapist).where(Therapist.email == key).with_for_update()
            ).first()
            if row is None or row.disabled_at is not None:  # disabled since it was read
                ok = False
            else:
                _release(session, attempt)
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

    if ok:
        audit.record("login", actor=key, clinic_id=view.clinic_id if view else None, ip=ip)
        return LoginResult(therapist=view, cookie=cookie, csrf_token=csrf_token)
    if attempt.refused:
        reason = "throttled"
    elif matched and view is not None:
        reason = "disabled"
    else:
        reason = "bad_credentials"
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


# ----------------------------------------------------------------------------- staff accounts
#
# Ending someone's access is one transaction: the account is marked and every live session of
# it ends with it, so a browser left signed in elsewhere loses its next request, not whenever
# it next looks. Each change is recorded in the audit log under the clinic of the account.


class AccountNotFound(TherapistError):
    """No such account (or, when a clinic is named, none at that clinic)."""


class LastAdministrator(TherapistError):
    """The change would leave a clinic without an administrator who can sign in."""


@dataclass(frozen=True)
class StaffMember:
    """One account of a clinic, as the staff list shows it (never the hash)."""

    id: int
    email: str
    is_admin: bool
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None
    live_sessions: int

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "email": self.email,
            "role": "administrator" if self.is_admin else "therapist",
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "live_sessions": self.live_sessions,
        }


@dataclass(frozen=True)
class AccountChange:
    """What a change did: to whom, how many sessions it ended, and whether anything changed
    (disabling a disabled account changes nothing, and says so)."""

    therapist: TherapistView
    sessions_ended: int
    changed: bool


def clinic_id(clinic_slug: str) -> int | None:
    """The id of the clinic with this slug, or ``None``."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        return session.scalar(select(Clinic.id).where(Clinic.slug == clinic_slug))


def _live_session_filter(now: datetime) -> list[object]:
    return [TherapistSession.ended_at.is_(None), TherapistSession.expires_at > now]


def staff(clinic: int) -> list[StaffMember]:
    """A clinic's accounts, administrators first, then by address."""
    db.ensure_schema()
    now = utcnow()
    live = (
        select(TherapistSession.therapist_id, func.count().label("live"))
        .where(*_live_session_filter(now))
        .group_by(TherapistSession.therapist_id)
        .subquery()
    )
    statement = (
        select(Therapist, func.coalesce(live.c.live, 0))
        .outerjoin(live, live.c.therapist_id == Therapist.id)
        .where(Therapist.clinic_id == clinic)
        .order_by(Therapist.is_admin.desc(), Therapist.email)
    )
    with db.session_scope(write=False) as session:
        return [
            StaffMember(
                id=row.id,
                email=row.email,
                is_admin=bool(row.is_admin),
                created_at=row.created_at,
                last_login_at=row.last_login_at,
                disabled_at=row.disabled_at,
                live_sessions=int(count),
            )
            for row, count in session.execute(statement)
        ]


def _target_filter(
    *, email: str | None, therapist_id: int | None, clinic: int | None
) -> list[ColumnElement[bool]]:
    """The conditions that pick the one account to change (by id or e-mail, in ``clinic``)."""
    if therapist_id is not None:
        conditions = [Therapist.id == therapist_id]
    elif email is not None:
        conditions = [Therapist.email == normalise_email(email)]
    else:
        raise ValueError("name an account by email or therapist_id")
    if clinic is not None:
        conditions.append(Therapist.clinic_id == clinic)
    return conditions


def _target(
    session: Session, *, email: str | None, therapist_id: int | None, clinic: int | None
) -> Therapist:
    """The account to change, locked and read afresh; another clinic's is
    :class:`AccountNotFound` too."""
    statement = (
        select(Therapist)
        .where(*_target_filter(email=email, therapist_id=therapist_id, clinic=clinic))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    therapist = session.scalars(statement).first()
    if therapist is None:
        raise AccountNotFound(f"No account {email or therapist_id!s} here.")
    return therapist


def _lock_enabled_admins(
    session: Session, *, email: str | None, therapist_id: int | None, clinic: int | None
) -> None:
    """Lock the target's clinic's enabled administrators, lowest id first, before the target.

    Two administrators disabling each other at the same moment would otherwise each lock
    their target and then wait for the other's (a deadlock on PostgreSQL). Taking every
    administrator's lock in one order makes the second wait for the first and then see its
    change, so it is refused as the last administrator instead.
    """
    clinic_id = session.scalar(
        select(Therapist.clinic_id).where(
            *_target_filter(email=email, therapist_id=therapist_id, clinic=clinic)
        )
    )
    if clinic_id is None:
        return
    session.scalars(
        select(Therapist.id)
        .where(
            Therapist.clinic_id == clinic_id,
            Therapist.is_admin.is_(True),
            Therapist.disabled_at.is_(None),
        )
        .order_by(Therapist.id)
        .with_for_update()
    ).all()


def _end_all_sessions(session: Session, therapist_id: int, now: datetime) -> int:
    result = session.execute(
        update(TherapistSession)
        .where(TherapistSession.therapist_id == therapist_id, TherapistSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount or 0)


def _record_change(action: str, change: AccountChange, *, by: str, ip: str | None) -> None:
    detail: dict[str, object] = {"sessions_ended": change.sessions_ended}
    if not change.changed:
        detail["unchanged"] = True
    audit.record(
        action,
        actor=by,
        clinic_id=change.therapist.clinic_id,
        target=change.therapist.email,
        ip=ip,
        detail=detail,
    )


def disable(
    *,
    by: str,
    email: str | None = None,
    therapist_id: int | None = None,
    clinic: int | None = None,
    keep_an_admin: bool = False,
    ip: str | None = None,
) -> AccountChange:
    """Stop an account from signing in and end every session of it, at once.

    ``keep_an_admin`` (the dashboard's rule) refuses to disable a clinic's last enabled
    administrator, so that no administrator can shut the clinic out of its own staff page;
    the command line may, because whoever runs it can make a new administrator.
    """
    db.ensure_schema()
    with db.session_scope() as session:
        if keep_an_admin:
            _lock_enabled_admins(session, email=email, therapist_id=therapist_id, clinic=clinic)
        therapist = _target(session, email=email, therapist_id=therapist_id, clinic=clinic)
        now = utcnow()
        if keep_an_admin and therapist.is_admin and therapist.disabled_at is None:
            admins = session.scalars(
                select(Therapist.id).where(
                    Therapist.clinic_id == therapist.clinic_id,
                    Therapist.is_admin.is_(True),
                    Therapist.disabled_at.is_(None),
                )
            ).all()
            if [admin for admin in admins if admin != therapist.id] == []:
                raise LastAdministrator(
                    f"{therapist.email} is the clinic's last administrator who can sign in; "
                    "make someone else an administrator first."
                )
        changed = therapist.disabled_at is None
        if changed:
            therapist.disabled_at = now
        change = AccountChange(
            _view(therapist), _end_all_sessions(session, therapist.id, now), changed
        )
    _record_change("disable_therapist", change, by=by, ip=ip)
    return change


def enable(
    *,
    by: str,
    email: str | None = None,
    therapist_id: int | None = None,
    clinic: int | None = None,
    ip: str | None = None,
) -> AccountChange:
    """Let a disabled account sign in again (its old sessions stay ended)."""
    db.ensure_schema()
    with db.session_scope() as session:
        therapist = _target(session, email=email, therapist_id=therapist_id, clinic=clinic)
        changed = therapist.disabled_at is not None
        therapist.disabled_at = None
        change = AccountChange(_view(therapist), 0, changed)
    _record_change("enable_therapist", change, by=by, ip=ip)
    return change


def end_sessions(
    *,
    by: str,
    email: str | None = None,
    therapist_id: int | None = None,
    clinic: int | None = None,
    ip: str | None = None,
) -> AccountChange:
    """End every live session of an account (a lost laptop), leaving it able to sign in."""
    db.ensure_schema()
    with db.session_scope() as session:
        therapist = _target(session, email=email, therapist_id=therapist_id, clinic=clinic)
        ended = _end_all_sessions(session, therapist.id, utcnow())
        change = AccountChange(_view(therapist), ended, ended > 0)
    _record_change("end_sessions", change, by=by, ip=ip)
    return change


def set_password(email: str, password: str, *, by: str, ip: str | None = None) -> AccountChange:
    """Give an account a new password; whoever held the old one loses every session, and
    the address's failed attempts are forgotten."""
    password_hash = _hasher().hash(check_password(password))
    db.ensure_schema()
    with db.session_scope() as session:
        therapist = _target(session, email=email, therapist_id=None, clinic=None)
        therapist.password_hash = password_hash
        ended = _end_all_sessions(session, therapist.id, utcnow())
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == therapist.email))
        change = AccountChange(_view(therapist), ended, True)
    _record_change("set_password", change, by=by, ip=ip)
    return change
