"""Rasa tracker store on the application's database (``DATABASE_URL``).

endpoints.yml names only the class::

    tracker_store:
      type: bot.chat.tracker_store.DatabaseUrlTrackerStore

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

What this store adds to Rasa's ``SQLTrackerStore``:

- every event's ``data`` (the JSON with the message text) is sealed with the newest data key
  before it is written and opened when read (:mod:`bot.encryption`); the other columns
  (sender id, event type, intent and action names, timestamp) carry no patient text and stay
  as Rasa writes them, so Rasa's queries work unchanged;
- SQLite connections get the same pragmas as the application's (WAL, ``busy_timeout``,
  ``secure_delete``), so replaced or erased rows are zeroed in the file;
- an erasure (:mod:`bot.privacy.erasure` deletes the sender's rows and sets ``patients.erased_at``)
  is not undone by the turn in flight: see :meth:`DatabaseUrlTrackerStore.save`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot import encryption, settings
from bot.chat.opened_events import OpenedEvents

logger = logging.getLogger(__name__)

#: Set by ``action_erase_my_data`` (actions/data_rights.py) right after it erased the patient.
ERASED_SLOT = "data_erased_at"

#: Events opened before, so that a turn opens only the events stored since the last one.
_OPENED = OpenedEvents()

# Connection settings that would compete with DATABASE_URL if endpoints.yml gave them.
_CONNECTION_KEYS = ("url", "dialect", "port", "db", "username", "password", "login_db", "query")


class TrackerStoreConfigError(ValueError):
    """The tracker store cannot be set up from the configuration it was given."""


class DatabaseUrlTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose connection is ``bot.settings.database_url()``, with every
    event sealed at rest and erasures respected (see the module's docstring)."""

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
        # Rasa logs a failed save at ERROR; SQLAlchemy's message would quote the INSERT's
        # values (sealed, but the statement's other values too): keep them out of the logs.
        self.engine.hide_parameters = True
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            if self.engine.url.database not in (None, "", ":memory:"):
                # Rasa's constructor already connected (create_all): reconnect with the
                # pragmas. (An in-memory database would vanish with its connection.)
                self.engine.dispose()
        try:
            encryption.keyring()  # a broken key source stops the server now, not mid-chat
        except encryption.EncryptionError as error:
            raise TrackerStoreConfigError(f"cannot seal conversations: {error}") from error
        self._has_patients: bool = False

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa 3.6's ``SQLTrackerStore._retrieve``, opening each sealed ``data`` first."""
        with self.session_scope() as session:
            serialised_events = self._event_query(
                session,
                sender_id,
                fetch_events_from_all_sessions=fetch_events_from_all_sessions,
            ).all()

            events = _event_dicts(sender_id, serialised_events)

            if self.domain and len(events) > 0:
                logger.debug(f"Recreating tracker from sender id '{sender_id}'")
                return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
            logger.debug(
                f"Can't retrieve tracker matching sender id '{sender_id}' from SQL storage. "
                "Returning `None` instead."
            )
            return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa 3.6's ``SQLTrackerStore.save``, sealing ``data``, with the erasure rules.

        Rasa writes the tracker's events beyond the number of rows stored for the current
        session. When the patient's rows were deleted during this turn, that number is 0 and
        Rasa would write the whole conversation held in memory back. So:

        a) when this turn's new events contain the ``data_erased_at`` slot being set (the
           chat's erase action ran), every stored row of the sender is deleted and only the
           events from that ``SlotSet`` on are written;
        b) otherwise, when ``patients.erased_at`` is set for the sender (staff erased while
           a turn was in flight), new events older than that moment are dropped.
        """
        await self.stream_events(tracker)

        with self.session_scope() as session:
            # only store recent events
            events: Sequence[Event] = list(self._additional_events(session, tracker))
            erased_from = _erasure_in(tracker, events)
            if erased_from is not None:
                _OPENED.forget(tracker.sender_id)
                session.query(self.SQLEvent).filter(
                    self.SQLEvent.sender_id == tracker.sender_id
                ).delete(synchronize_session=False)
                events = events[erased_from:]
            else:
                erased_at = self._erased_at(session, tracker.sender_id)
                if erased_at is not None:
                    events = [e for e in events if (e.timestamp or 0.0) >= erased_at]

            for event in events:
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                action = data.get("name")
                timestamp = data.get("timestamp")

                # noinspection PyArgumentList
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=timestamp,
                        intent_name=intent,
                        action_name=action,
                        data=encryption.seal(json.dumps(data)),
                    )
                )
            session.commit()

        logger.debug(f"Tracker with sender_id '{tracker.sender_id}' stored to database")

    def _erased_at(self, session: Any, sender_id: str) -> float | None:
        """``patients.erased_at`` of ``sender_id`` as a Unix time; ``None`` if never erased
        (or no such patient, or a database without the application's tables)."""
        if not self._has_patients:
            self._has_patients = sa.inspect(self.engine).has_table("patients")
            if not self._has_patients:
                return None
        value = session.execute(
            sa.text("SELECT erased_at FROM patients WHERE sender_id = :sender"),
            {"sender": sender_id},
        ).scalar()
        return None if value is None else _unix_time(value)


def _event_dicts(sender_id: str, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The events stored in ``rows`` of ``sender_id``, opened once per process and then
    kept (:mod:`bot.chat.opened_events`). One that cannot be opened keeps its place as an
    empty bot utterance, so that the conversation (and a crisis reply in it) goes on and
    Rasa's count of stored events stays right; the failure is logged as an error."""
    ring = encryption.keyring()  # once per read, not once per event

    def open_value(row_id: int, sealed: str) -> str | None:
        if not encryption.is_sealed(sealed):
            return sealed
        try:
            return ring.open(sealed)
        except encryption.EncryptionError:
            pass
        try:
            return encryption.open_value(sealed)  # the keys read again, once
        except encryption.EncryptionError as error:
            logger.error(f"Tracker store event {row_id} cannot be opened: {error}")
            return None

    plaintexts = _OPENED.read(sender_id, [(row.id, row.data) for row in rows], open_value)
    return [
        json.loads(text)
        if text is not None
        else {"event": "bot", "text": None, "timestamp": row.timestamp}
        for row, text in zip(rows, plaintexts, strict=True)
    ]


def _erasure_in(tracker: DialogueStateTracker, new_events: Sequence[Event]) -> int | None:
    """Index in ``new_events`` of the latest ``SlotSet`` of :data:`ERASED_SLOT` that records
    a new erasure, or ``None``. A ``SlotSet`` that repeats the slot's previous value (a
    slot carried over into a new session) is not an erasure."""
    first_new = len(tracker.events) - len(new_events)
    events = list(tracker.events)
    for index in range(len(new_events) - 1, -1, -1):
        event = new_events[index]
        if isinstance(event, SlotSet) and event.key == ERASED_SLOT and event.value:
            if event.value != _slot_before(events[: first_new + index], ERASED_SLOT):
                return index
    return None


def _slot_before(events: Sequence[Event], slot: str) -> Any:
    for event in reversed(events):
        if isinstance(event, SlotSet) and event.key == slot:
            return event.value
    return None


def _unix_time(value: datetime | str) -> float:
    """A stored ``erased_at`` (a datetime, or SQLite's naive UTC text) as a Unix time."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The pragmas of ``bot.storage.db``: WAL so that the three servers read while one
    writes, a wait instead of an error on a locked database, and deleted or replaced rows
    overwritten with zeros (an erasure must not leave the text in free pages).

    One more, for these connections only: ``synchronous = NORMAL``, SQLite's recommended
    setting with WAL. A commit then waits for no disk flush (the write-ahead log is flushed
    at checkpoints), which took a twentieth of the Rasa server's time per message; the file
    can never be corrupted by it, and a crash of the server loses nothing. Only a power cut
    or an operating-system crash can lose the events of the last moments of chat. The
    journal, written through ``bot.storage.db``, keeps the full flush of every commit."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 5000")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


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
