"""One place for configuration: environment variables with safe local defaults.

Pure standard library, so both environments (the Rasa server's and the application's)
read the same values the same way.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COMPANION_VAR_DIR", PROJECT_ROOT / "var"))


def database_url() -> str:
    """The database for the journal, risk flags and the tracker store.

    Defaults to a SQLite file under ``var/``; ``DATABASE_URL`` selects another one.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{VAR_DIR / 'companion.db'}"


def demo_clinic_slug() -> str:
    """The clinic whose patients may chat anonymously over the open REST channel."""
    return os.environ.get("COMPANION_DEMO_CLINIC", "demo")


def demo_mode() -> bool:
    """Whether the demo clinic may chat without a personal link (on for a local ``make run``).

    Deployments set ``COMPANION_DEMO_MODE=0``: then every chat channel requires a patient token.
    """
    return os.environ.get("COMPANION_DEMO_MODE", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


def public_web_url() -> str:
    """The web app's address as patients' browsers see it (widget.js, configuration, links)."""
    return os.environ.get("COMPANION_PUBLIC_WEB_URL", "http://localhost:8000").rstrip("/")


def widget_script_url() -> str:
    """The widget's script as clinics' pages load it: the demo page's tag and the one
    ``clinic create`` prints come from here, so they cannot disagree."""
    return f"{public_web_url()}/widget.js"


def public_rasa_url() -> str:
    """Where the widget's socket.io client reaches the Rasa server."""
    return os.environ.get("COMPANION_PUBLIC_RASA_URL", "http://localhost:5005").rstrip("/")


def token_secret_file() -> Path:
    return VAR_DIR / "secrets" / "token.key"


def token_secret() -> bytes:
    """The key that signs patient tokens; every process of one deployment must share it.

    ``COMPANION_TOKEN_SECRET`` wins; otherwise a random key is kept in ``var/secrets/token.key``
    (see ``_secret_from``).
    """
    return _secret_from("COMPANION_TOKEN_SECRET", token_secret_file())


def action_secret() -> bytes:
    """The shared secret Rasa sends the action server with every call: the action server
    receives whole conversations, so nothing else may call it.

    ``COMPANION_ACTION_SECRET`` wins; otherwise ``var/secrets/action.key``.
    """
    return _secret_from("COMPANION_ACTION_SECRET", VAR_DIR / "secrets" / "action.key")


def _secret_from(env_var: str, path: Path) -> bytes:
    """The key in the environment variable ``env_var``, else the one kept in ``path``.

    The file is created on first use with permissions 0600 so that only the service account
    can read it. Two processes starting at once may race to create it: ``O_EXCL`` lets
    exactly one write it and the other reads what the first wrote.
    """
    value = os.environ.get(env_var)
    if value:
        return value.encode()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it and start again, or set {env_var}")


# ----------------------------------------------------------------------------- dashboard


def _dashboard_seconds(name: str, default: float) -> float:
    """A duration in seconds from the environment; a value that is not a positive number is
    a configuration mistake, reported at once rather than silently replaced by the default."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RuntimeError(f"{name}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise RuntimeError(f"{name}={raw!r} must not be negative")
    return value


def dashboard_idle_timeout() -> float:
    """Seconds without a request after which a therapist's session ends (default 15 min)."""
    return _dashboard_seconds("COMPANION_SESSION_IDLE_SECONDS", 15 * 60)


def dashboard_max_age() -> float:
    """Seconds after sign-in after which a session ends however active it is (default 12 h)."""
    return _dashboard_seconds("COMPANION_SESSION_MAX_AGE_SECONDS", 12 * 60 * 60)


def secure_cookies(scheme: str) -> bool:
    """Whether the dashboard's cookies carry ``Secure`` for a request made over ``scheme``.

    ``COMPANION_SECURE_COOKIES``: ``auto`` (default) = only over HTTPS (uvicorn's
    ``--proxy-headers`` turns a trusted proxy's ``X-Forwarded-Proto`` into the scheme);
    ``1`` = always (a deployment behind TLS that should never send them in clear); ``0`` = never.
    """
    value = os.environ.get("COMPANION_SECURE_COOKIES", "auto").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    return scheme == "https"


def login_window() -> float:
    """Seconds over which failed sign-ins of one e-mail address are counted (default 15 min)."""
    return _dashboard_seconds("COMPANION_LOGIN_WINDOW_SECONDS", 15 * 60)


def login_lock() -> float:
    """The longest wait between two sign-in attempts on one address from one network, and of
    one network across addresses (default 15 min). Sign-in is slowed, never locked: guesses
    from elsewhere cannot keep a clinician out (see :mod:`bot.clinics.therapists`)."""
    return _dashboard_seconds("COMPANION_LOGIN_LOCK_SECONDS", 15 * 60)


def login_delay_step() -> float:
    """The first wait between sign-in attempts once they need spacing (default 1 s); the
    waits double from there, and an attempt more than five steps from its turn is refused
    without its password being checked."""
    return _dashboard_seconds("COMPANION_LOGIN_DELAY_SECONDS", 1.0)


# ----------------------------------------------------------------------------- notifications


def _notify_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in {"0", "false", "no", "off"}


def smtp_host() -> str | None:
    """The SMTP server that sends risk-flag e-mails; unset means no e-mail can be sent."""
    return os.environ.get("COMPANION_SMTP_HOST", "").strip() or None


def smtp_port() -> int:
    """The SMTP server's port (default 587, the submission port that offers STARTTLS)."""
    raw = os.environ.get("COMPANION_SMTP_PORT", "").strip()
    if not raw:
        return 587
    try:
        port = int(raw)
    except ValueError:
        raise RuntimeError(f"COMPANION_SMTP_PORT={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise RuntimeError(f"COMPANION_SMTP_PORT={raw!r} is not a port number")
    return port


def smtp_user() -> str | None:
    """User name for SMTP AUTH; unset means the server takes mail without signing in."""
    return os.environ.get("COMPANION_SMTP_USER") or None


def smtp_password() -> str:
    return os.environ.get("COMPANION_SMTP_PASSWORD", "")


def smtp_from() -> str:
    """The sender of risk-flag e-mails (default ``noreply@`` the web app's host name)."""
    value = os.environ.get("COMPANION_SMTP_FROM", "").strip()
    if value:
        return value
    from urllib.parse import urlsplit

    host = urlsplit(public_web_url()).hostname or "localhost"
    return f"noreply@{host}"


def smtp_starttls() -> bool:
    """Whether the connection must be encrypted with STARTTLS before anything is sent.

    On by default: the mail is refused rather than sent in clear when the server does not
    offer STARTTLS. ``COMPANION_SMTP_STARTTLS=0`` for a relay on the same machine.
    """
    return _notify_flag("COMPANION_SMTP_STARTTLS", True)


def notify_interval() -> float:
    """Seconds between the web app's passes over unsent risk-flag notifications.

    ``COMPANION_NOTIFY_INTERVAL`` (default 10); ``0`` means this web app sends none (another
    process, or ``python -m bot notify --once``, does).
    """
    raw = os.environ.get("COMPANION_NOTIFY_INTERVAL", "").strip()
    if not raw:
        return 10.0
    try:
        value = float(raw)
    except ValueError:
        raise RuntimeError(
            f"COMPANION_NOTIFY_INTERVAL={raw!r} is not a number of seconds"
        ) from None
    if not 0 <= value < float("inf"):
        raise RuntimeError(f"COMPANION_NOTIFY_INTERVAL={raw!r} must be 0 or a positive number")
    return value


def webhook_secret_file() -> Path:
    return VAR_DIR / "secrets" / "webhook.key"


def webhook_secret() -> bytes:
    """The key from which each clinic's webhook signing key is derived.

    ``COMPANION_WEBHOOK_SECRET`` wins; otherwise a random key is kept in
    ``var/secrets/webhook.key``, created on first use exactly like the token key and for the
    same reasons. It is separate from the token key so that handing a clinic its
    webhook key can never help anyone forge a patient's link.
    """
    return _secret_from("COMPANION_WEBHOOK_SECRET", webhook_secret_file())


# ----------------------------------------------------------------------------- chat rate limit


def rate_limit() -> tuple[int, float] | None:
    """How many messages one patient may send per period: ``(count, seconds)``, or None.

    ``COMPANION_RATE_LIMIT="30/60"`` (the default) lets a patient send 30 messages a minute
    on average; ``off`` switches the limit off (a benchmark that floods on purpose).
    A crisis message always gets through (see ``bot.chat.message_gate``).
    """
    return _rate("COMPANION_RATE_LIMIT", (30, 60.0))


def _rate(name: str, default: tuple[int, float]) -> tuple[int, float] | None:
    """``COUNT/SECONDS`` from the environment variable ``name``, or None for ``off``.

    A value that is neither is a configuration mistake, reported at once rather than
    silently replaced by the default.
    """
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"0", "off", "false", "no", "none"}:
        return None
    count, slash, seconds = raw.partition("/")
    try:
        parsed = int(count), float(seconds) if slash else 60.0
    except ValueError:
        parsed = (0, 0.0)
    if parsed[0] < 1 or not 0 < parsed[1] < float("inf"):
        raise RuntimeError(f"{name}={raw!r} is not COUNT/SECONDS (e.g. 30/60) or off")
    return parsed


def _whole_number(name: str, default: int) -> int:
    """A whole number of 1 or more from the environment; anything else is a configuration
    mistake, reported at once rather than silently replaced by the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise RuntimeError(f"{name}={raw!r} must be a whole number of 1 or more")
    return value


def rate_limit_burst() -> int:
    """Messages a patient may send at once before the sustained rate applies (default 20).

    ``COMPANION_RATE_LIMIT_BURST``; quick replies clicked in a row and a queue of messages
    the widget sends on reconnecting must fit in it.
    """
    return _whole_number("COMPANION_RATE_LIMIT_BURST", 20)


def ip_rate_limit() -> tuple[int, float] | None:
    """How many messages all the conversations of one network address may send per period.

    Beside the per-patient limit: anyone can start many conversations (anonymous demo
    sessions, demo-mode REST senders), and each would have an allowance of its own.
    ``COMPANION_IP_RATE_LIMIT="300/60"`` (the default) is far above what the patients of one
    clinic behind one address type; ``off`` switches it off, and so does
    ``COMPANION_RATE_LIMIT=off`` (a benchmark that floods on purpose from one machine).
    Crisis messages always get through, as with the per-patient limit.
    """
    if rate_limit() is None:
        return None
    return _rate("COMPANION_IP_RATE_LIMIT", (300, 60.0))


def ip_rate_limit_burst() -> int:
    """Messages one address may send at once before its sustained rate applies (default
    120, ``COMPANION_IP_RATE_LIMIT_BURST``)."""
    return _whole_number("COMPANION_IP_RATE_LIMIT_BURST", 120)


def anonymous_sessions_per_ip() -> tuple[int, float] | None:
    """Anonymous demo sessions one network address may start per period (each is a new
    patient with its own chat allowance, and rows in the database).

    ``COMPANION_ANONYMOUS_SESSIONS_PER_IP="10/600"`` (default): ten at once, then one a
    minute; ``off`` for none.
    """
    return _rate("COMPANION_ANONYMOUS_SESSIONS_PER_IP", (10, 600.0))


def anonymous_sessions_total() -> tuple[int, float] | None:
    """Anonymous demo sessions the web app starts per period from all addresses together,
    so that many addresses cannot fill the database either.

    ``COMPANION_ANONYMOUS_SESSIONS="120/60"`` (default); ``off`` for none.
    """
    return _rate("COMPANION_ANONYMOUS_SESSIONS", (120, 60.0))


# ----------------------------------------------------------------------------- Rasa server


def concurrent_turns() -> int:
    """How many turns one Rasa server works on at once (``COMPANION_CONCURRENT_TURNS``,
    default 4); the other messages wait their turn in order (:mod:`bot.chat.turn_slots`)."""
    return _whole_number("COMPANION_CONCURRENT_TURNS", 4)


def rasa_interface() -> str:
    """The address the Rasa server that ``make run`` starts listens on.

    Loopback by default: in demo mode its REST channel is open to anyone who can reach it.
    ``COMPANION_RASA_INTERFACE=0.0.0.0`` for a deployment where other machines (a reverse
    proxy) must reach it directly.
    """
    return os.environ.get("COMPANION_RASA_INTERFACE", "").strip() or "127.0.0.1"


def _forgiving_whole_number(name: str, default: int) -> int:
    """The environment variable ``name`` as a whole number of 1 or more; ``default`` when it
    is unset, or (logged as an error) when it is anything else.

    For settings read while a crisis flag or its notice is written: a typo must never cost
    the flag, so it is reported in the log rather than raised.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        logging.getLogger(__name__).error(
            "%s=%r is not a whole number of 1 or more: using %s", name, raw, default
        )
        return default
    return value


def flag_window_minutes() -> int:
    """Minutes an open risk flag takes the patient's next messages of its category, counted
    from its latest message (``COMPANION_FLAG_WINDOW_MINUTES``, default 30); also the period
    of each clinic's notice limit. A flood of crisis messages then makes one flag with a
    count, not a flag per message."""
    return _forgiving_whole_number("COMPANION_FLAG_WINDOW_MINUTES", 30)


def notice_limit() -> int:
    """Notices of their own a clinic gets per flag window before the rest go into one digest
    (``COMPANION_NOTICE_LIMIT``, default 10). A patient's first flag in the window and an
    escalation are always announced on their own."""
    return _forgiving_whole_number("COMPANION_NOTICE_LIMIT", 10)
