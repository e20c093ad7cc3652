"""Rasa tracker store on the application's database (``DATABASE_URL``).

endpoints.yml names only the class::

    tracker_store:
      type: bot.nlu.tracker_store.DatabaseUrlTrackerStore

and the connection comes from ``bot.settings.database_url()``, the same setting the journal
uses, so the conversation history and the journal always live in one database: the SQLite
file under ``var/`` by default, PostgreSQL when ``DATABASE_URL`` says so. Rasa keeps its
events in its own ``events`` table there (raw message text included: patient data).

How Rasa builds it (rasa/core/tracker_store.py, 3.6): for a ``type`` that is not one of its
own, ``_load_from_module_name_in_endpoint_config`` imports the class and calls
``cls(host=<url or None>, domain=..., event_broker=..., **other keys)``. If that call raises
``ImportError`` or ``AttributeError``, Rasa logs a warning and silently falls back to an
in-memory store - conversations would then vanish on restart. Configuration mistakes are
therefore reported here as ``TrackerStoreConfigError`` (a ``ValueError``), which stops the
server instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot import settings

# Connection settings that would compete with DATABASE_URL if endpoints.yml gave them.
_CONNECTION_KEYS = ("url", "dialect", "port", "db", "username", "password", "login_db", "query")


class TrackerStoreConfigError(ValueError):
    """The tracker store cannot be set up from the configuration it was given."""


class DatabaseUrlTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose connection is ``bot.settings.database_url()``."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        given = sorted(key for key in _CONNECTION_KEYS if kwargs.get(key) is not None)
        if host is not None:
            given.insert(0, "url/host")
        if given:
            raise TrackerStoreConfigError(
                f"tracker_store in endpoints.yml sets {', '.join(given)}; the database is chosen by "
                "DATABASE_URL (bot.settings.database_url()) only, so that Rasa and the journal share it."
            )
        for key in _CONNECTION_KEYS:
            kwargs.pop(key, None)
        try:
            url = engine_url(settings.database_url())
            super().__init__(
                domain=domain,
                host=url.render_as_string(hide_password=False),
                event_broker=event_broker,
                **kwargs,
            )
        except (ImportError, AttributeError, ArgumentError) as error:
            # e.g. a missing or unknown database driver: stop here instead of Rasa's
            # silent in-memory fallback.
            raise TrackerStoreConfigError(f"cannot open the tracker store: {error}") from error


def engine_url(database_url: str) -> URL:
    """The SQLAlchemy 1.4 URL for ``database_url``, ready for Rasa's engine.

    - ``postgres://`` and the SQLAlchemy 2 driver names (``postgresql+psycopg``,
      ``+asyncpg``) become ``postgresql+psycopg2``, the driver installed with Rasa;
    - for a SQLite file, the parent folder is created (SQLite cannot create it, and Rasa
      would retry the connection forever). Relative paths are relative to the working
      directory, as SQLAlchemy reads them.
    """
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        # The message would repeat the URL, password included: keep it out of the logs.
        raise TrackerStoreConfigError(
            "DATABASE_URL is not a database URL "
            "(expected sqlite:///absolute/path.db or postgresql://user:password@host:port/db)"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg2")
    if backend == "sqlite":
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return url.set(drivername="sqlite")
    return url
