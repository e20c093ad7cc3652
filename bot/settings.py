"""One place for configuration: environment variables with safe local defaults.

Pure standard library, so both environments (the Rasa server's and the application's)
read the same values the same way.
"""

from __future__ import annotations

import os
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
