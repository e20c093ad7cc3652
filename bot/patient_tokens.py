"""Who may chat, from where: patient tokens, their revocation, and clinics' web origins.

Every chat connection carries a token that this module signed (a JWT, HS256, with the key
from :func:`bot.settings.token_secret`). The conversation's sender id is the token's
``sub`` and nothing else, so nobody can write into another patient's conversation by
sending a different id. A token is only as good as its row in ``patient_links``: a revoked
link, or one whose row is gone, is refused even before it expires.

This module runs in both environments - inside the Rasa server (SQLAlchemy 1.4) for the
chat channels and in the web app and CLI (SQLAlchemy 2) - so it uses only PyJWT,
SQLAlchemy Core ``text()`` queries, which mean the same in both versions, and the pure
:mod:`bot.safety.clinic_lines`.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import jwt
import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot import settings
from bot.safety import clinic_lines

ALGORITHM = "HS256"
ORIGIN_CACHE_SECONDS = 5.0

#: What the patient reads when access is refused, by reason code. Plain, kind, and never
#: a hint about other patients or how the check works.
MESSAGES: dict[str, str] = {
    "missing_token": "This chat needs the personal link from your clinic. "
    "Please open the link they gave you.",
    "malformed_token": "This chat link is not valid. Please use the link your clinic gave you, "
    "or ask them for a new one.",
    "invalid_signature": "This chat link is not valid. Please use the link your clinic gave you, "
    "or ask them for a new one.",
    "expired": "Your chat link has expired. Please ask your clinic for a new one.",
    "revoked": "This chat link has been switched off by your clinic. "
    "Please ask them for a new one.",
    "origin_not_allowed": "This page is not registered for this clinic. "
    "Please open the chat on your clinic's own web site.",
    "unknown_clinic": "Unknown clinic. The chat on this page is not set up yet.",
    "anonymous_not_allowed": "This chat needs the personal link from your clinic. "
    "Please open the link they gave you.",
    "wrong_clinic": "This conversation belongs to another clinic.",
    "anonymous_off": "Chats without a personal link are switched off on this server. "
    "Please open the link your clinic gave you.",
}


#: What the web developer of a clinic's page reads in the browser's console when the widget
#: meets a set-up problem, by reason: what is wrong and the command that puts it right.
#: ``{slug}`` is the tag's data-clinic and ``{origin}`` the page's origin. ``opaque_origin``
#: is ``origin_not_allowed`` for a page that has no origin a clinic could list (a file, a
#: sandboxed frame). The patient reads :data:`MESSAGES` instead.
SETUP_HINTS: dict[str, str] = {
    "origin_not_allowed": "This page's origin {origin} is not one of clinic {slug}'s origins. "
    "Add it on the server: python -m bot clinic update --slug {slug} --add-origin {origin}",
    "opaque_origin": "This page has no web origin (it sent {origin}: a file opened from disk, "
    "or a sandboxed frame), so no clinic can list it. Serve the page over http(s) from one of "
    "clinic {slug}'s origins (python -m bot clinic list shows them).",
    "unknown_clinic": "No clinic on this server has the slug in the tag's data-clinic "
    "({slug}). python -m bot clinic list shows the clinics; "
    "python -m bot clinic create --slug SLUG ... adds one.",
    "anonymous_not_allowed": "Clinic {slug} allows no chat without a personal link. Patients "
    "open their link from the dashboard (Invite a patient) or from "
    "python -m bot patient invite --clinic {slug}; the page's address then ends in "
    "#companion-token=..., or a patient portal passes data-token=... in the tag.",
    "anonymous_off": "This server runs with demo mode off, so every chat needs a personal link: "
    "python -m bot patient invite --clinic {slug} makes one.",
}


#: A conversation id a client may name (the demo-mode REST channel): letters, digits, ``-`` and
#: ``_``, starting with a letter or digit, at most 255 characters (the tracker store's column).
#: The id becomes part of dashboard addresses, file names of exports and log lines, so nothing
#: that means something there (``/``, ``.``, ``%``, spaces, line breaks, surrogates) is allowed.
SENDER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")

#: What a client is told when the sender id it named does not fit the pattern.
SENDER_ID_MESSAGE = (
    "That sender id is not valid: use 1 to 255 letters, digits, '-' or '_', "
    "starting with a letter or digit."
)


def valid_sender_id(value: object) -> bool:
    """Whether ``value`` is a conversation id a client may name (:data:`SENDER_ID_PATTERN`)."""
    return isinstance(value, str) and SENDER_ID_PATTERN.fullmatch(value) is not None


class AccessDenied(Exception):
    """Access refused: ``reason`` for programs and logs, ``message`` for the patient."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = MESSAGES[reason]
        super().__init__(f"{reason}: {self.message}")


@dataclass(frozen=True)
class Identity:
    """A verified patient: the conversation they may use and the clinic they belong to."""

    sender_id: str
    clinic: str
    jti: str
    kind: str
    expires_at: datetime


def normalize_origin(value: str) -> str:
    """``scheme://host[:port]`` as browsers send it in the ``Origin`` header.

    Lower-case scheme and host, no path, no default port. Raises ``ValueError`` for
    anything that is not an http(s) origin, so a typo in a clinic's settings is caught
    when it is entered rather than silently never matching.
    """
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{value!r} is not a web origin like https://clinic.example")
    has_user = parts.username is not None or parts.password is not None
    if parts.path not in {"", "/"} or parts.query or parts.fragment or has_user:
        raise ValueError(f"{value!r} is not a bare origin: leave out any path, query or user")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port == 0:
        raise ValueError(f"{value!r} has port 0, which no web page can be served from")
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


# ----------------------------------------------------------------------------- database

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _driver_url(url: str) -> Any:
    """``url`` with this environment's PostgreSQL driver: psycopg 3 beside SQLAlchemy 2 (the
    application), SQLAlchemy 1.4's default psycopg2 in the Rasa server's environment."""
    if sqlalchemy.__version__.split(".")[0] == "1":
        return url
    from bot.storage.db import sqlalchemy_url

    return sqlalchemy_url(url)


def _engine() -> Engine:
    url = settings.database_url()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            # hide_parameters: an error message must never quote a statement's values.
            engine = create_engine(_driver_url(url), pool_pre_ping=True, hide_parameters=True)
            _engines[url] = engine
        return engine


def reset() -> None:
    """Forget engines and caches (tests that switch ``DATABASE_URL``)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
    _origin_cache.clear()


def _query(sql: str, **params: Any) -> list[dict[str, Any]]:
    with _engine().connect() as connection:
        return [dict(row) for row in connection.execute(text(sql), params).mappings()]


def _mark_used(jti: str) -> None:
    """Stamp a link's first use, once: the dashboard tells unused links from active ones."""
    engine = _engine()
    now = datetime.now(timezone.utc)
    if engine.dialect.name == "sqlite":  # stored as naive UTC there, as the models do
        now = now.replace(tzinfo=None)
    statement = text(
        "UPDATE patient_links SET first_used_at = :now WHERE id = :jti AND first_used_at IS NULL"
    ).bindparams(sqlalchemy.bindparam("now", type_=sqlalchemy.DateTime(timezone=True)))
    with engine.begin() as connection:
        connection.execute(statement, {"now": now, "jti": jti})


def _as_list(value: Any) -> list[Any]:
    # JSON columns come back decoded from SQLAlchemy's JSON type, but a plain text()
    # query returns the stored text on SQLite.
    if isinstance(value, str):
        import json

        value = json.loads(value)
    return list(value or [])


def _clinic_origins(slug: str) -> list[str] | None:
    rows = _query("SELECT origins FROM clinics WHERE slug = :slug", slug=slug)
    if not rows:
        return None
    return _as_list(rows[0]["origins"])


_origin_cache: dict[str, tuple[float, frozenset[str]]] = {}


def _all_origins() -> frozenset[str]:
    url = settings.database_url()
    cached = _origin_cache.get(url)
    now = time.monotonic()
    if cached and now - cached[0] < ORIGIN_CACHE_SECONDS:
        return cached[1]
    origins: set[str] = set()
    for row in _query("SELECT origins FROM clinics"):
        origins.update(_as_list(row["origins"]))
    value = frozenset(origins)
    _origin_cache[url] = (now, value)
    return value


def origin_allowed_anywhere(origin: str | None) -> bool:
    """Whether at least one clinic allows this origin (the socket.io handshake check)."""
    if not origin:
        return False
    try:
        return normalize_origin(origin) in _all_origins()
    except ValueError:
        return False


def clinic_allows_origin(slug: str, origin: str | None) -> bool:
    """Whether pages of ``origin`` may open chats for the clinic ``slug``."""
    if not origin:
        return False
    try:
        normalized = normalize_origin(origin)
    except ValueError:
        return False
    return normalized in (_clinic_origins(slug) or [])


def sender_clinic(sender_id: str) -> str | None:
    """The clinic slug of a known patient; ``None`` for a sender id never seen."""
    rows = _query(
        "SELECT clinics.slug AS slug FROM patients JOIN clinics ON clinics.id = patients.clinic_id "
        "WHERE patients.sender_id = :sender_id",
        sender_id=sender_id,
    )
    return rows[0]["slug"] if rows else None


def clinic_crisis_settings(slug: str) -> dict[str, Any] | None:
    """What the clinic's crisis replies are built from; ``None`` for an unknown clinic.

    ``{"emergency_number", "response_time", "crisis_lines", "peer_support_line"}``, as
    :func:`bot.safety.clinic_lines.lines_for` takes it. Whatever is missing or unusable in the
    row (a database written by hand, or before these settings existed) is the default's, so
    a crisis reply always has numbers to give.
    """
    rows = _query(
        "SELECT emergency_number, response_time, crisis_lines, peer_support_line FROM clinics "
        "WHERE slug = :slug",
        slug=slug,
    )
    if not rows:
        return None
    row = rows[0]
    try:
        lines = _as_list(row["crisis_lines"])
    except ValueError:
        lines = []
    return clinic_lines.complete_settings(
        {
            "emergency_number": row["emergency_number"],
            "response_time": row["response_time"],
            "crisis_lines": lines,
            # SQLite returns its 0/1 through text(), PostgreSQL a bool.
            "peer_support_line": bool(row["peer_support_line"]),
        }
    )


def clinic_care_team(slug: str) -> dict[str, Any] | None:
    """How the clinic's patients reach its care team: ``{"care_team_contact",
    "care_team_hours", "response_time"}`` (each may be None); ``None`` for an unknown clinic.

    Read apart from :func:`clinic_crisis_settings`, so that a crisis reply never depends on
    anything but the crisis settings."""
    rows = _query(
        "SELECT care_team_contact, care_team_hours, response_time FROM clinics WHERE slug = :slug",
        slug=slug,
    )
    if not rows:
        return None
    row = rows[0]
    return {key: row[key] for key in ("care_team_contact", "care_team_hours", "response_time")}


def _as_utc(value: datetime | str) -> datetime:
    """A stored UTC timestamp: SQLite returns text without a zone through ``text()``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def sender_has_links(sender_id: str) -> bool:
    """Whether this conversation belongs to a patient who was given a token.

    Such a conversation is only ever reachable with its token, demo mode or not: an open
    channel must not let someone who learned the id write into it.
    """
    rows = _query(
        "SELECT 1 AS found FROM patient_links JOIN patients ON patients.id = patient_links.patient_id "
        "WHERE patients.sender_id = :sender_id LIMIT 1",
        sender_id=sender_id,
    )
    return bool(rows)


# ----------------------------------------------------------------------------- tokens


def issue_token(*, sender_id: str, clinic: str, jti: str, kind: str, expires_at: datetime) -> str:
    """Sign a token for a link whose ``patient_links`` row the caller has written."""
    claims = {
        "sub": sender_id,
        "clinic": clinic,
        "jti": jti,
        "kind": kind,
        "iat": int(time.time()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, settings.token_secret(), algorithm=ALGORITHM)


def _decode(token: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            settings.token_secret(),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "clinic", "jti", "kind", "exp"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise AccessDenied("expired") from error
    except jwt.InvalidSignatureError as error:
        raise AccessDenied("invalid_signature") from error
    except (jwt.InvalidTokenError, UnicodeError) as error:
        # UnicodeError: PyJWT encodes the token as ASCII before parsing it.
        raise AccessDenied("malformed_token") from error


def verify_token(token: str | None, *, origin: str | None, check_origin: bool = True) -> Identity:
    """The patient a token speaks for, or :class:`AccessDenied` saying why not.

    Checks, in order: a token is there, its signature and expiry, that its link still exists
    and is not revoked (and has not expired in the database either), that its patient still
    belongs to the token's clinic, and - for browsers (``check_origin``) - that the page's
    origin is one of that clinic's.
    """
    if not token or not isinstance(token, str):
        raise AccessDenied("missing_token")
    claims = _decode(token)
    if not all(isinstance(claims[key], str) for key in ("sub", "clinic", "jti", "kind")):
        raise AccessDenied("malformed_token")
    try:
        token_expires_at = datetime.fromtimestamp(claims["exp"], tz=timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError) as error:
        # Signed with our key, yet an expiry no calendar holds: refuse, never crash.
        raise AccessDenied("malformed_token") from error
    rows = _query(
        "SELECT patient_links.revoked_at AS revoked_at, patient_links.expires_at AS expires_at, "
        "patient_links.first_used_at AS first_used_at, patients.sender_id AS sender_id, "
        "clinics.slug AS clinic FROM patient_links "
        "JOIN patients ON patients.id = patient_links.patient_id "
        "JOIN clinics ON clinics.id = patients.clinic_id "
        "WHERE patient_links.id = :jti",
        jti=claims["jti"],
    )
    if not rows or rows[0]["revoked_at"] is not None:
        raise AccessDenied("revoked")
    row = rows[0]
    if _as_utc(row["expires_at"]) <= datetime.now(timezone.utc):
        raise AccessDenied("expired")
    if row["sender_id"] != claims["sub"] or row["clinic"] != claims["clinic"]:
        raise AccessDenied("revoked")
    if check_origin and not clinic_allows_origin(claims["clinic"], origin):
        raise AccessDenied("origin_not_allowed")
    if row["first_used_at"] is None:
        _mark_used(claims["jti"])
    return Identity(
        sender_id=claims["sub"],
        clinic=claims["clinic"],
        jti=claims["jti"],
        kind=claims["kind"],
        expires_at=token_expires_at,
    )


def offers_peer_support(sender_id: str) -> bool:
    """Whether the patient's clinic offers the psychedelic peer-support line after a session
    (``peer_support_line``; off unless the clinic switches it on)."""
    clinic = sender_clinic(sender_id)
    settings = clinic_crisis_settings(clinic) if clinic else None
    return bool(settings and settings["peer_support_line"])
