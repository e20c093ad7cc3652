"""The tracker store seals what is said, on a real SQLite file and a real PostgreSQL database
with the application's schema, and an erasure (the application's own ``bot.privacy.erasure``, run in
the application's environment as the action server and the dashboard run it, with its own
driver) is never undone by a turn in flight.

The bytes left on disk after an erasure are checked on SQLite only: PostgreSQL keeps deleted
rows until VACUUM (see bot.privacy.erasure)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pg_server
import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import encryption
from bot.chat.tracker_store import DatabaseUrlTrackerStore, engine_url

pytestmark = pytest.mark.slow

SENDER = "p-sealed-1"
BEFORE = "my brother Anselm drove me to the pharmacy on Kloosterweg"
IN_FLIGHT = "and then I called Wilhelmina about the money"
AFTER = "starting again after the erasure with the yellow notebook"


@pytest.fixture
def domain(project_root: Path) -> Domain:
    return Domain.load(project_root / "domain.yml")


def app(project_root: Path, code: str) -> None:
    """Run ``code`` with the application's Python (where bot.privacy.erasure and the ORM live)."""
    subprocess.run(
        [str(project_root / ".venv" / "bin" / "python"), "-c", code],
        cwd=project_root,
        env={**os.environ, "PYTHONPATH": str(project_root)},
        check=True,
        timeout=120,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    project_root: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """A database migrated by the application, with the patient in the demo clinic; its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'companion.db'}"
    else:
        server: pg_server.PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
    monkeypatch.setenv("DATABASE_URL", url)
    app(
        project_root,
        "from bot.storage import db; from bot.journal import entries as journal; db.upgrade(); "
        f"journal.save_entry({SENDER!r}, 'checkin', fields={{'note': 'x'}})",
    )
    yield url


def sqlite_file(url: str) -> Path | None:
    parsed = sa.engine.make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" else None


def execute(url: str, statement: str, **values: object) -> list[tuple]:
    """One statement on a connection of its own (not the store's), committed."""
    engine = sa.create_engine(engine_url(url))
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement), values)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture
def store(database: str, domain: Domain) -> Iterator[DatabaseUrlTrackerStore]:
    found = DatabaseUrlTrackerStore(domain=domain)
    yield found
    found.engine.dispose()


def erase(project_root: Path) -> None:
    app(
        project_root,
        f"from bot.privacy import erasure; erasure.erase_patient({SENDER!r}, 'cli:test')",
    )


def said(text: str) -> list:
    return [
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "inform", "confidence": 1.0}, []),
        BotUttered(f"You said: {text}"),
    ]


async def turn(store: DatabaseUrlTrackerStore, events: list) -> DialogueStateTracker:
    tracker = await store.retrieve(SENDER) or store.init_tracker(SENDER)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def rows(url: str) -> list[tuple[str, str | None, str]]:
    return execute(
        url,
        "SELECT type_name, intent_name, data FROM events WHERE sender_id = :sender ORDER BY id",
        sender=SENDER,
    )


def file_bytes(path: Path) -> bytes:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def texts(tracker: DialogueStateTracker | None) -> list[str]:
    if tracker is None:
        return []
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered)) and e.text]


def test_events_are_sealed_at_rest_and_read_back(
    store: DatabaseUrlTrackerStore, database: str
) -> None:
    asyncio.run(turn(store, said(BEFORE)))

    stored = rows(database)
    assert [(kind, intent) for kind, intent, _ in stored] == [
        ("action", None),
        ("user", "inform"),
        ("bot", None),
    ]
    assert all(encryption.is_sealed(data) for _, _, data in stored)
    assert json.loads(encryption.open_value(stored[1][2]))["text"] == BEFORE
    path = sqlite_file(database)
    if path is not None:
        raw = file_bytes(path)
        assert BEFORE.encode() not in raw and b"Kloosterweg" not in raw
    reader = DatabaseUrlTrackerStore(domain=store.domain)
    assert texts(asyncio.run(reader.retrieve(SENDER))) == [BEFORE, f"You said: {BEFORE}"]
    reader.engine.dispose()


def test_the_store_is_on_the_backend_asked_for(
    store: DatabaseUrlTrackerStore, backend: str
) -> None:
    assert store.engine.dialect.name == backend


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_connections_zero_what_they_delete(store: DatabaseUrlTrackerStore) -> None:
    with store.engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(statement).scalar()
            for name, statement in (
                ("secure_delete", "PRAGMA secure_delete"),
                ("journal_mode", "PRAGMA journal_mode"),
                ("busy_timeout", "PRAGMA busy_timeout"),
                ("synchronous", "PRAGMA synchronous"),
            )
        }
    normal = 1
    assert pragmas == {
        "secure_delete": 1,
        "journal_mode": "wal",
        "busy_timeout": 5000,
        "synchronous": normal,
    }


def test_a_turn_opens_only_the_events_stored_since_the_last(
    store: DatabaseUrlTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = encryption.Keyring.open

    def counting_open(ring: encryption.Keyring, sealed: str) -> str:
        plaintext = real_open(ring, sealed)
        opened.append(json.loads(plaintext)["event"])
        return plaintext

    monkeypatch.setattr(encryption.Keyring, "open", counting_open)
    asyncio.run(turn(store, said(BEFORE)))
    asyncio.run(turn(store, said(IN_FLIGHT)))
    assert opened == ["action", "user", "bot"]

    opened.clear()
    tracker = asyncio.run(turn(store, said(AFTER)))

    assert opened == ["action", "user", "bot"]  # the second turn's three, not all six
    assert texts(tracker)[::2] == [BEFORE, IN_FLIGHT, AFTER]


def test_a_row_sealed_again_by_a_key_rotation_is_read_with_the_new_key(
    store: DatabaseUrlTrackerStore, database: str
) -> None:
    asyncio.run(turn(store, said(BEFORE)))
    asyncio.run(store.retrieve(SENDER))  # opened and kept
    [(row_id, data)] = execute(
        database,
        "SELECT id, data FROM events WHERE sender_id = :sender AND type_name = 'user'",
        sender=SENDER,
    )
    changed = UserUttered(AFTER, {"name": "inform", "confidence": 1.0}, []).as_dict()
    execute(
        database,
        "UPDATE events SET data = :data WHERE id = :id",
        data=encryption.seal(json.dumps(changed)),
        id=row_id,
    )

    assert texts(asyncio.run(store.retrieve(SENDER)))[0] == AFTER


def test_rows_from_before_encryption_are_read(
    store: DatabaseUrlTrackerStore, database: str
) -> None:
    asyncio.run(turn(store, said(BEFORE)))
    execute(
        database,
        "INSERT INTO events (sender_id, type_name, timestamp, data) "
        "VALUES (:sender, 'user', :timestamp, :data)",
        sender=SENDER,
        timestamp=time.time(),
        data=json.dumps(UserUttered(AFTER).as_dict()),
    )

    assert texts(asyncio.run(store.retrieve(SENDER)))[-1] == AFTER


def test_an_unreadable_event_keeps_the_conversation_going(
    store: DatabaseUrlTrackerStore, database: str
) -> None:
    asyncio.run(turn(store, said(BEFORE)))
    stranger = encryption.Keyring.from_keys([encryption.new_key()], "a lost key file")
    execute(
        database,
        "UPDATE events SET data = :data WHERE sender_id = :sender AND type_name = 'user'",
        data=stranger.seal(json.dumps(UserUttered(BEFORE).as_dict())),
        sender=SENDER,
    )

    tracker = asyncio.run(turn(store, said(AFTER)))

    assert len(tracker.events) == 6
    assert texts(tracker) == [f"You said: {BEFORE}", AFTER, f"You said: {AFTER}"]
    assert len(rows(database)) == 6  # Rasa's count of stored events stayed right


@pytest.mark.parametrize("erased_first", [True, False], ids=["action-erased", "slot-only"])
def test_erasure_from_the_chat_keeps_nothing_from_before(
    store: DatabaseUrlTrackerStore, database: str, project_root: Path, erased_first: bool
) -> None:
    asyncio.run(turn(store, said(BEFORE)))
    old_ciphertexts = [data.encode() for _, _, data in rows(database)]

    async def erasing_turn() -> None:
        tracker = await store.retrieve(SENDER)
        for event in said(IN_FLIGHT):
            tracker.update(event)
        tracker.update(ActionExecuted("action_erase_my_data"))
        if erased_first:  # what action_erase_my_data does before it returns the slot
            erase(project_root)
        tracker.update(BotUttered("Your data is erased."))
        tracker.update(SlotSet("data_erased_at", datetime.now(timezone.utc).isoformat()))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)

    asyncio.run(erasing_turn())

    assert [kind for kind, _, _ in rows(database)] == ["slot", "action"]
    path = sqlite_file(database)
    if path is not None:
        raw = file_bytes(path)
        assert not [c for c in old_ciphertexts if c in raw]
    assert texts(asyncio.run(store.retrieve(SENDER))) == []

    tracker = asyncio.run(turn(store, said(AFTER)))

    assert texts(tracker) == [AFTER, f"You said: {AFTER}"]
    assert [kind for kind, _, _ in rows(database)] == ["slot", "action"] + ["action", "user", "bot"]
    full = asyncio.run(store.retrieve_full_tracker(SENDER))
    assert texts(full) == [AFTER, f"You said: {AFTER}"]


def test_the_same_erasure_mark_again_is_not_a_new_erasure(
    store: DatabaseUrlTrackerStore, database: str
) -> None:
    mark = datetime.now(timezone.utc).isoformat()
    asyncio.run(turn(store, [SlotSet("data_erased_at", mark), *said(BEFORE)]))

    asyncio.run(turn(store, [SlotSet("data_erased_at", mark), *said(AFTER)]))

    assert texts(asyncio.run(store.retrieve(SENDER))) == [
        BEFORE,
        f"You said: {BEFORE}",
        AFTER,
        f"You said: {AFTER}",
    ]


def test_staff_erasure_during_a_turn_is_not_written_back(
    store: DatabaseUrlTrackerStore, database: str, project_root: Path
) -> None:
    asyncio.run(turn(store, said(BEFORE)))

    async def turn_in_flight() -> None:
        tracker = await store.retrieve(SENDER)
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(IN_FLIGHT, {"name": "inform", "confidence": 1.0}, []))
        erase(project_root)  # the dashboard erases while Rasa is still on this turn
        tracker.update(BotUttered(AFTER))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)

    asyncio.run(turn_in_flight())

    assert [kind for kind, _, _ in rows(database)] == ["bot", "action"]
    assert texts(asyncio.run(store.retrieve_full_tracker(SENDER))) == [AFTER]
    [(erased_at,)] = execute(
        database, "SELECT erased_at FROM patients WHERE sender_id = :sender", sender=SENDER
    )
    assert erased_at is not None

    tracker = asyncio.run(turn(store, said("a new day")))

    assert texts(tracker) == [AFTER, "a new day", "You said: a new day"]
