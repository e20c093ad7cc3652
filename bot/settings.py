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

    ``COMPANION_TOKEN_SECRET`` wins; otherwise a random key is kept in ``var/secrets/token.key``,
    created on first use with permissions 0600 so that only the service account can read it.
    Two processes starting at once may race to create it: ``O_EXCL`` lets exactly one write
    it and the other reads what the first wrote.
    """
    value = os.environ.get("COMPANION_TOKEN_SECRET")
    if value:
        return value.encode()
    path = token_secret_file()
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
    raise RuntimeError(f"{path} is empty: delete it and start again, or set COMPANION_TOKEN_SECRET")
