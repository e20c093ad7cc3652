"""Patient text sealed at rest (bot.encryption, bot.storage.sealed, migration 0004), checked
on the bytes of real SQLite files and of a real PostgreSQL server's data folder: what the
journal and the risk flags keep must not be readable there, and must come back whole
through the application."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pg_server
import pytest
from sqlalchemy import select, text

from bot import encryption, records
from bot.journal import entries as journal
from bot.storage import db
from bot.storage.models import JournalEntry, RiskFlag
from bot.storage.rasa_events import EVENTS

SENTENCE = "The lighthouse keeper's cello reminded me of my grandmother Ilsebrandt"
FLAG_MESSAGE = "I keep thinking about the quarry road at midnight, Marisol"
OLD_SENTENCE = "Before encryption I wrote about the orange kayak on Lake Veluwe"
OLD_FLAG = "An old flag about the blue ferry to Texel"
OLD_CHAT = "Old chat line about the violin workshop in Cremona"

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def database_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log and shared-memory files, as on disk."""
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def checkpoint(path: Path) -> None:
    db.reset_engines()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def server_bytes(server: pg_server.PostgresServer) -> bytes:
    """Everything the PostgreSQL server has on disk (tables, write-ahead log), after a
    checkpoint has written out what was only in its memory."""
    server.sql("CHECKPOINT")
    assert server.data_dir is not None, "a server of the tests' own is needed to read its files"
    files = (path for path in server.data_dir.rglob("*") if path.is_file())
    return b"".join(path.read_bytes() for path in files)


def stored_values(url: str) -> list[str]:
    """The journal's, the flags' and Rasa's text columns as stored, read with plain SQL."""
    with db.get_engine(url).connect() as connection:
        return [
            connection.execute(
                text("SELECT CAST(fields AS TEXT) FROM journal_entries")
            ).scalar_one(),
            connection.execute(text("SELECT message FROM risk_flags")).scalar_one(),
        ] + list(connection.execute(text("SELECT data FROM events")).scalars())


def text_forms(text: str) -> list[bytes]:
    """How ``text`` could appear in the file: UTF-8, and inside JSON."""
    return [text.encode(), json.dumps(text).encode(), text.split()[-1].encode()]


# ----------------------------------------------------------------------------- the sealing


def test_seal_opens_with_its_key_and_names_it(data_keys: Path) -> None:
    sealed = encryption.seal(SENTENCE)

    ring = encryption.keyring()
    assert sealed.startswith(f"enc1:{ring.primary}:")
    assert SENTENCE not in sealed
    assert encryption.sealed_key_id(sealed) == ring.primary
    assert encryption.open_value(sealed) == SENTENCE
    assert encryption.seal(SENTENCE) != sealed  # a fresh IV every time


def test_key_file_is_private(data_keys: Path, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "private" / "secrets" / "data.keys"
    monkeypatch.setenv(encryption.ENV_KEYS_FILE, str(path))
    encryption.reset()

    encryption.seal("x")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(path.read_text().split()) == 1


def test_plaintext_from_before_encryption_reads_as_it_is() -> None:
    assert encryption.open_value(OLD_SENTENCE) == OLD_SENTENCE
    assert encryption.sealed_key_id(OLD_SENTENCE) is None


def test_tampered_ciphertext_is_an_error_not_garbage() -> None:
    sealed = encryption.seal(SENTENCE)
    head, token = sealed.rsplit(":", 1)
    middle = len(token) // 2
    flipped = "A" if token[middle] != "A" else "B"
    tampered = f"{head}:{token[:middle]}{flipped}{token[middle + 1 :]}"

    with pytest.raises(encryption.EncryptionError, match="failed authentication"):
        encryption.open_value(tampered)
    with pytest.raises(encryption.EncryptionError, match="malformed"):
        encryption.open_value("enc1:nokeyid")


def test_unknown_key_is_a_clear_error(data_keys: Path) -> None:
    stranger = encryption.Keyring.from_keys([encryption.new_key()], "elsewhere")
    sealed = stranger.seal(SENTENCE)

    with pytest.raises(encryption.EncryptionError) as raised:
        encryption.open_value(sealed)

    assert f"key {stranger.primary}" in str(raised.value)
    assert str(data_keys) in str(raised.value)


def test_a_changed_key_file_is_read_again(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "rotating.keys"
    monkeypatch.setenv(encryption.ENV_KEYS_FILE, str(path))
    encryption.reset()
    old = encryption.seal(SENTENCE)
    (old_key,) = path.read_text().split()

    new_key = encryption.new_key()
    encryption.write_keys_file([new_key, old_key])  # another process rotates; no reset here

    newer = encryption.seal(SENTENCE)
    assert encryption.sealed_key_id(newer) == encryption.key_id(new_key)
    assert encryption.open_value(old) == encryption.open_value(newer) == SENTENCE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_environment_keys_win_over_the_file(data_keys: Path, monkeypatch) -> None:
    first, second = encryption.new_key(), encryption.new_key()
    monkeypatch.setenv(encryption.ENV_KEYS, f"{first}, {second}")

    sealed = encryption.seal(SENTENCE)

    assert encryption.sealed_key_id(sealed) == encryption.key_id(first)
    assert encryption.keyring().key_ids == [encryption.key_id(first), encryption.key_id(second)]
    monkeypatch.setenv(encryption.ENV_KEYS, "not-a-key")
    with pytest.raises(encryption.EncryptionError, match="not a Fernet key"):
        encryption.seal(SENTENCE)


# ----------------------------------------------------------------------------- raw bytes


def test_journal_and_flags_are_not_in_the_file(
    migrated: str, database_path: Path, database_backend: str, request: pytest.FixtureRequest
) -> None:
    journal.save_entry("p-bytes", "checkin", fields={"note": SENTENCE}, mood=4, craving=3)
    journal.update_entry_fields("p-bytes", 1, {"note": SENTENCE + " (again)"})
    journal.record_risk_flag("p-bytes", message=FLAG_MESSAGE, category=None, source="detector")

    if database_backend == "sqlite":
        in_flight = database_bytes(database_path)  # the write-ahead log holds the latest pages
        checkpoint(database_path)
        on_disk = [in_flight, database_bytes(database_path)]
    else:
        on_disk = [server_bytes(request.getfixturevalue("postgres_server"))]
    assert b"p-bytes" in on_disk[-1]  # the search below looks in the right place
    for raw in on_disk:
        for sentence in (SENTENCE, FLAG_MESSAGE):
            for form in text_forms(sentence):
                assert form not in raw, form

    with db.get_engine(migrated).connect() as connection:
        fields = connection.execute(text("SELECT fields FROM journal_entries")).scalar_one()
        message = connection.execute(text("SELECT message FROM risk_flags")).scalar_one()
    assert encryption.is_sealed(fields) and encryption.is_sealed(message)

    entry = journal.get_entry("p-bytes", 1)
    assert entry is not None and entry.fields["note"] == SENTENCE + " (again)"
    with db.session_scope(write=False) as session:
        assert session.scalars(select(RiskFlag.message)).one() == FLAG_MESSAGE


def _plaintext_rows_at_0003(url: str) -> None:
    """What a database held before encryption: journal JSON, a flag, Rasa events."""
    at = "2026-01-05 10:00:00.000000"
    engine = db.get_engine(url)
    EVENTS.metadata.create_all(engine, tables=[EVENTS])
    with engine.begin() as connection:
        for statement, values in [
            (
                "INSERT INTO clinics (id, slug, name, created_at) "
                "VALUES (1, 'old', 'Old Clinic', :at)",
                {"at": at},
            ),
            (
                "INSERT INTO patients (id, clinic_id, sender_id, created_at, last_seen_at) "
                "VALUES (1, 1, 'p-old', :at, :at)",
                {"at": at},
            ),
            (
                "INSERT INTO journal_entries (patient_id, number, kind, status, fields, "
                "created_at) VALUES (1, 1, 'checkin', 'complete', :fields, :at)",
                {"fields": json.dumps({"note": OLD_SENTENCE}), "at": at},
            ),
            (
                "INSERT INTO risk_flags (patient_id, source, message, created_at) "
                "VALUES (1, 'detector', :message, :at)",
                {"message": OLD_FLAG, "at": at},
            ),
            (
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "VALUES ('p-old', 'user', :timestamp, :data)",
                {
                    "timestamp": 1767607200.0,
                    "data": json.dumps(
                        {"event": "user", "text": OLD_CHAT, "timestamp": 1767607200.0}
                    ),
                },
            ),
        ]:
            connection.execute(text(statement), values)


def test_migration_seals_what_was_stored_before(
    database_url: str, database_path: Path, database_backend: str
) -> None:
    db.upgrade(database_url, "0003")
    _plaintext_rows_at_0003(database_url)
    assert OLD_SENTENCE in "".join(stored_values(database_url))  # the test can fail
    if database_backend == "sqlite":
        checkpoint(database_path)
        assert OLD_SENTENCE.encode() in database_bytes(database_path)

    db.upgrade(database_url)

    stored = stored_values(database_url)
    assert len(stored) == 3 and all(encryption.is_sealed(value) for value in stored)
    # SQLite's secure_delete zeroes the replaced rows. PostgreSQL keeps them as dead row
    # versions until VACUUM (as after an erasure; see bot.privacy.erasure), so only SQLite's file
    # is searched.
    if database_backend == "sqlite":
        checkpoint(database_path)
        raw = database_bytes(database_path)
        for sentence in (OLD_SENTENCE, OLD_FLAG, OLD_CHAT):
            for form in text_forms(sentence):
                assert form not in raw, sentence

    with db.session_scope(write=False) as session:
        assert session.scalars(select(JournalEntry.fields)).one() == {"note": OLD_SENTENCE}
        assert session.scalars(select(RiskFlag.message)).one() == OLD_FLAG
        (data,) = session.execute(select(EVENTS.c.data)).one()
    assert json.loads(encryption.open_value(data))["text"] == OLD_CHAT
    patient = records.find_patient(1, "p-old")
    assert patient is not None
    (conversation,) = records.load_record(patient).conversations
    assert [message.text for message in conversation.messages] == [OLD_CHAT]
