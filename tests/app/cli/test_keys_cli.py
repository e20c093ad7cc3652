"""``python -m bot keys …`` as real subprocesses on real SQLite files and PostgreSQL
databases, and real key files:
rotation (also while another process keeps writing), resuming after an interruption,
retiring old keys, and the errors an operator must be able to read."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot import encryption
from bot.clinics import reminders
from bot.journal import entries as journal
from bot.settings import PROJECT_ROOT
from bot.storage import db, rekey
from bot.storage.models import (
    CareTeamQuestion,
    FlagAction,
    JournalEntry,
    Patient,
    ReminderSubscription,
    RiskFlag,
)
from bot.storage.rasa_events import EVENTS

CHAT = "I told the bot about the red tram to Scheveningen"

pytestmark = [pytest.mark.databases("sqlite", "postgresql"), pytest.mark.slow]


def run_keys(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "keys", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
        capture_output=True,
        encoding="utf-8",
        timeout=180,
        check=False,
    )


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key file of this test's own (rotation changes it), shared with its subprocesses."""
    path = tmp_path / "keys" / "data.keys"
    monkeypatch.setenv(encryption.ENV_KEYS_FILE, str(path))
    encryption.reset()
    encryption.ensure_keys_file()
    return path


def keys_in(path: Path) -> list[str]:
    return path.read_text().split()


LABEL = "K.S. 0101"
NOTE = "Called her back; she is with a friend tonight."
QUESTION = "What did the lighthouse image mean to you?"
ANSWER = "That I can find my way back."
ADDRESS = "k.s.0101@mail.example"


def fill(entries: int) -> None:
    """Journal entries, risk flags, the clinic's label for the patient, a note on a flag's
    acknowledgement, the patient's address for reminders and Rasa events, each sealed with
    the current key."""
    for number in range(entries):
        journal.save_entry("p-keys", "checkin", fields={"note": f"note {number}"}, mood=5)
    with db.session_scope() as session:
        session.execute(update(Patient).where(Patient.sender_id == "p-keys").values(label=LABEL))
    for number in range(3):
        journal.record_risk_flag(
            "p-keys", message=f"flag {number}", category=f"kind-{number}", source="t"
        )
    # A second message of the first flag's category: kept with that flag, in its own column.
    first = journal.record_risk_flag(
        "p-keys", message="flag 0 again", category="kind-0", source="t"
    )
    # What staff wrote when they acknowledged it: sealed like patient text.
    with db.session_scope() as session:
        session.add(
            FlagAction(flag_id=first, action="Seen", note=NOTE, acknowledged_by="t@x.example")
        )
    # A question the care team wrote and the patient's answer to it: both sealed.
    with db.session_scope() as session:
        patient_id = session.scalar(select(Patient.id).where(Patient.sender_id == "p-keys"))
        session.add(
            CareTeamQuestion(
                patient_id=patient_id,
                question=QUESTION,
                status="answered",
                answer=ANSWER,
                created_by="t@x.example",
            )
        )
    reminders.subscribe("p-keys", ADDRESS)
    engine = db.get_engine()
    EVENTS.metadata.create_all(engine, tables=[EVENTS])
    with engine.begin() as connection:
        connection.execute(
            EVENTS.insert(),
            [
                {
                    "sender_id": "p-keys",
                    "type_name": "user",
                    "timestamp": 1767607200.0 + number,
                    "data": encryption.seal(json.dumps({"event": "user", "text": CHAT})),
                }
                for number in range(5)
            ],
        )


def by_key() -> dict[str, dict[str, int]]:
    with db.get_engine().connect() as connection:
        return rekey.count_by_key(connection)


def assert_everything_opens(entries: int) -> None:
    with db.session_scope(write=False) as session:
        notes = [f["note"] for f in session.scalars(select(JournalEntry.fields))]
        flags = list(session.scalars(select(RiskFlag.message)))
        labels = list(session.scalars(select(Patient.label)))
        notes_on_flags = list(session.scalars(select(FlagAction.note)))
        asked = list(session.execute(select(CareTeamQuestion.question, CareTeamQuestion.answer)))
        addresses = list(session.scalars(select(ReminderSubscription.address)))
        events = [
            json.loads(encryption.open_value(d)) for d in session.scalars(select(EVENTS.c.data))
        ]
    assert sorted(notes) == sorted(f"note {n}" for n in range(entries))
    assert sorted(flags) == ["flag 0", "flag 1", "flag 2"]
    assert labels == [LABEL]
    assert notes_on_flags == [NOTE]
    assert [tuple(row) for row in asked] == [(QUESTION, ANSWER)]
    assert addresses == [ADDRESS]
    assert [e["text"] for e in events] == [CHAT] * 5


def test_new_prints_a_fresh_key_and_status_never_prints_one(migrated: str, key_file: Path) -> None:
    first, second = run_keys("new"), run_keys("new")
    assert first.returncode == second.returncode == 0
    assert first.stdout.strip() != second.stdout.strip()
    assert encryption.Keyring.from_keys([first.stdout], "test").primary

    fill(2)
    status = run_keys("status")

    assert status.returncode == 0, status.stderr
    (key,) = keys_in(key_file)
    assert key not in status.stdout + status.stderr
    kid = encryption.key_id(key)
    assert f"the key file {key_file}" in status.stdout
    assert f"{kid}  seals and opens" in status.stdout
    assert f"journal: {kid} 2" in status.stdout
    assert f"events: {kid} 5" in status.stdout
    assert f"flag_action_notes: {kid} 1" in status.stdout
    assert f"care_team_answers: {kid} 1" in status.stdout


def test_rotate_seals_every_row_with_a_new_key(migrated: str, key_file: Path) -> None:
    fill(7)
    (old,) = keys_in(key_file)

    result = run_keys("rotate", "--batch", "3")

    assert result.returncode == 0, result.stderr
    new, kept = keys_in(key_file)
    assert kept == old and new != old
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    new_id = encryption.key_id(new)
    assert "journal: sealed up to row 3" in result.stdout
    assert by_key() == {
        "journal": {new_id: 7},
        "risk_flags": {new_id: 3},
        "risk_flag_messages": {new_id: 1},
        "events": {new_id: 5},
        "patient_labels": {new_id: 1},
        "flag_action_notes": {new_id: 1},
        "care_team_questions": {new_id: 1},
        "care_team_answers": {new_id: 1},
        "reminder_addresses": {new_id: 1},
    }
    encryption.reset()
    assert_everything_opens(7)
    assert new not in result.stdout + result.stderr


def test_an_interrupted_rotation_is_resumed(migrated: str, key_file: Path) -> None:
    fill(10)
    (old,) = keys_in(key_file)
    new = encryption.new_key()
    encryption.write_keys_file([new, old])
    encryption.reset()

    def interrupt(store: str, last_id: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rekey.reseal_engine(db.get_engine(), batch=4, progress=interrupt)
    old_id, new_id = encryption.key_id(old), encryption.key_id(new)
    assert by_key()["journal"] == {new_id: 4, old_id: 6}  # the first batch was committed
    db.reset_engines()

    result = run_keys("rotate", "--resume", "--batch", "4")

    assert result.returncode == 0, result.stderr
    assert keys_in(key_file) == [new, old]  # --resume adds no key
    assert by_key() == {
        "journal": {new_id: 10},
        "risk_flags": {new_id: 3},
        "risk_flag_messages": {new_id: 1},
        "events": {new_id: 5},
        "patient_labels": {new_id: 1},
        "flag_action_notes": {new_id: 1},
        "care_team_questions": {new_id: 1},
        "care_team_answers": {new_id: 1},
        "reminder_addresses": {new_id: 1},
    }
    assert_everything_opens(10)


WRITER = """
import sys, time
from pathlib import Path
from bot.journal import entries as journal
stop = Path(sys.argv[1])
written = 0
while not stop.exists():
    journal.save_entry("p-writer", "checkin", fields={"note": f"written {written}"})
    written += 1
    print(written, flush=True)
    time.sleep(0.01)
print("done", written, flush=True)
"""


def _written(path: Path) -> int:
    lines = path.read_text().split("\n") if path.exists() else []
    return max((int(line) for line in lines if line.isdigit()), default=0)


def test_rotation_while_a_server_writes_loses_nothing(
    migrated: str, key_file: Path, tmp_path: Path
) -> None:
    fill(150)
    db.reset_engines()
    stop, output = tmp_path / "stop", tmp_path / "writer.out"
    with output.open("w") as sink:
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(stop)],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=sink,
        )
    try:
        deadline = time.monotonic() + 60
        while _written(output) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = _written(output)

        result = run_keys("rotate", "--batch", "5")

        during = _written(output)
        deadline = time.monotonic() + 60
        while _written(output) < during + 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert writer.returncode == 0
    total = int(output.read_text().split()[-1])
    assert before < during < total  # the writer really wrote while the keys changed

    new_id = encryption.key_id(keys_in(key_file)[0])
    assert by_key()["journal"] == {new_id: 150 + total}
    encryption.reset()
    with db.session_scope(write=False) as session:
        notes = [fields["note"] for fields in session.scalars(select(JournalEntry.fields))]
    assert sorted(notes) == sorted(
        [f"note {n}" for n in range(150)] + [f"written {n}" for n in range(total)]
    )


def test_retire_refuses_while_an_old_key_is_needed(
    migrated: str, key_file: Path, database_path: Path, database_backend: str
) -> None:
    fill(3)
    (old,) = keys_in(key_file)
    new = encryption.new_key()
    encryption.write_keys_file([new, old])
    encryption.reset()
    db.reset_engines()

    refused = run_keys("retire")

    assert refused.returncode == 1
    old_id = encryption.key_id(old)
    assert f"journal 3 with {old_id}" in refused.stderr
    assert f"events 5 with {old_id}" in refused.stderr
    assert keys_in(key_file) == [new, old]

    assert run_keys("rotate", "--resume").returncode == 0
    retired = run_keys("retire")

    assert retired.returncode == 0, retired.stderr
    assert old_id in retired.stdout
    assert keys_in(key_file) == [new]
    if database_backend == "sqlite":  # no copy of the old pages left in the write-ahead log
        wal = database_path.with_name(database_path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
    encryption.reset()
    assert_everything_opens(3)
    assert run_keys("retire").stdout.startswith(f"Only key {encryption.key_id(new)}")


def test_keys_from_the_environment(migrated: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = encryption.new_key(), encryption.new_key()
    monkeypatch.setenv(encryption.ENV_KEYS, old)
    encryption.reset()
    fill(2)

    refused = run_keys("rotate")

    assert refused.returncode == 1
    assert "COMPANION_DATA_KEYS" in refused.stderr and "--resume" in refused.stderr
    assert run_keys("retire").returncode == 1

    resumed = run_keys("rotate", "--resume", COMPANION_DATA_KEYS=f"{new},{old}")

    assert resumed.returncode == 0, resumed.stderr
    new_id = encryption.key_id(new)
    assert by_key() == {
        "journal": {new_id: 2},
        "risk_flags": {new_id: 3},
        "risk_flag_messages": {new_id: 1},
        "events": {new_id: 5},
        "patient_labels": {new_id: 1},
        "flag_action_notes": {new_id: 1},
        "care_team_questions": {new_id: 1},
        "care_team_answers": {new_id: 1},
        "reminder_addresses": {new_id: 1},
    }
    status = run_keys("status", COMPANION_DATA_KEYS=f"{new},{old}")
    assert "the environment variable COMPANION_DATA_KEYS" in status.stdout
    assert new not in status.stdout and old not in status.stdout


def test_a_row_sealed_with_an_unknown_key_is_named(migrated: str, key_file: Path) -> None:
    fill(1)
    stranger = encryption.Keyring.from_keys([encryption.new_key()], "a lost key file")
    with db.get_engine().begin() as connection:
        connection.execute(EVENTS.update().where(EVENTS.c.id == 1).values(data=stranger.seal("{}")))
    db.reset_engines()

    status = run_keys("status")
    rotated = run_keys("rotate", "--resume")

    assert status.returncode == 0
    assert stranger.primary in status.stderr and "restore" in status.stderr
    assert rotated.returncode == 1
    assert f"key {stranger.primary}" in rotated.stderr and "Traceback" not in rotated.stderr
