"""One place for configuration: environment variables with safe local defaults.

Pure standard library, so both environments (the Rasa server's and the application's)
read the same values the same way.
"""

from __future__ import annotations

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
    """Seconds sign-in stays paused for an address after too many failures (default 15 min)."""
    return _dashboard_seconds("COMPANION_LOGIN_LOCK_SECONDS", 15 * 60)


def login_delay_step() -> float:
    """Extra wait per failed sign-in beyond the third (default 1 s; at most five steps)."""
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
    A crisis message always gets through (see ``bot.nlu.message_gate``).
    """
    raw = os.environ.get("COMPANION_RATE_LIMIT", "").strip().lower()
    if not raw:
        return 30, 60.0
    if raw in {"0", "off", "false", "no", "none"}:
        return None
    count, slash, seconds = raw.partition("/")
    try:
        parsed = int(count), float(seconds) if slash else 60.0
    except ValueError:
        parsed = (0, 0.0)
    if parsed[0] < 1 or not 0 < parsed[1] < float("inf"):
        raise RuntimeError(
            f"COMPANION_RATE_LIMIT={raw!r} is not MESSAGES/SECONDS (e.g. 30/60) or off"
        )
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


# ----------------------------------------------------------------------------- Rasa server


def concurrent_turns() -> int:
    """How many turns one Rasa server works on at once (``COMPANION_CONCURRENT_TURNS``,
    default 4); the other messages wait their turn in order (:mod:`bot.nlu.turn_slots`)."""
    return _whole_number("COMPANION_CONCURRENT_TURNS", 4)
