"""Retention (bot.privacy.retention, ``python -m bot purge``) on real rows, checked against Rasa itself,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from data_rights_support import conversation_rows, insert_events
from sqlalchemy import select

from bot.clinics import patients, registry
from bot.privacy import retention
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import AuditEvent
from bot.storage.rasa_events import EVENTS

pytestmark = pytest.mark.databases("sqlite", "postgresql")

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
NOW = datetime.now(UTC).replace(microsecond=0)

#: Prints, per sender, the ids of the rows Rasa 3.6's SQL tracker store reads as the
#: sender's current session (the rows it counts before it saves a turn). Rasa takes a whole
#: database URL as ``host`` (and reads ``postgresql://`` with its own driver, psycopg2).
RASA_CURRENT_SESSION = """
import json, sys
from rasa.core.tracker_store import SQLTrackerStore
store = SQLTrackerStore(host=sys.argv[1])
result = {}
with store.session_scope() as session:
    for sender in json.loads(sys.argv[2]):
        rows = store._event_query(session, sender, fetch_events_from_all_sessions=False).all()
        result[sender] = sorted(row.id for row in rows)
print(json.dumps(result))
"""


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def world(clinic_db: str) -> dict[str, str]:
    """Clinic "kept" (30 days' retention) and "forever" (none), with conversations of
    every age, current sessions older than the cut-off, and senders Rasa sees as one
    session."""
    registry.create("kept", "Kept", origins=["https://kept.example"], retention_days=30)
    registry.create("forever", "Forever", origins=["https://forever.example"])
    senders = {
        "old_and_current": patients.invite("kept").sender_id,
        "no_sessions": patients.invite("kept").sender_id,
        "recent_current": patients.invite("kept").sender_id,
        "forever": patients.invite("forever").sender_id,
        "stranger": "p-not-a-patient",
    }
    rows = []
    s = senders
    rows += conversation_rows(s["old_and_current"], days_ago(60), ["sixty days ago"])
    rows += conversation_rows(s["old_and_current"], days_ago(40), ["forty days ago"])
    # The current session began 35 days ago and goes on until yesterday: never purged.
    current = conversation_rows(s["old_and_current"], days_ago(35), ["thirty-five days ago"])
    current += conversation_rows(
        s["old_and_current"], days_ago(1), ["yesterday, same session"], session_start=False
    )
    rows += current
    rows += conversation_rows(s["no_sessions"], days_ago(90), ["ninety"], session_start=False)
    rows += conversation_rows(s["recent_current"], days_ago(50), ["fifty days ago"])
    rows += conversation_rows(s["recent_current"], days_ago(5), ["five days ago"])
    rows += conversation_rows(s["forever"], days_ago(100), ["a hundred days ago"])
    rows += conversation_rows(s["forever"], days_ago(2), ["two days ago"])
    rows += conversation_rows(s["stranger"], days_ago(100), ["not anybody's patient"])
    rows.sort(key=lambda row: row["timestamp"])
    insert_events(rows)
    return senders


def event_times(sender_id: str) -> list[float]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(EVENTS.c.timestamp)
                .where(EVENTS.c.sender_id == sender_id)
                .order_by(EVENTS.c.id)
            )
        )


def latest_session_start(sender_id: str) -> float:
    with db.session_scope(write=False) as session:
        return session.scalar(
            select(EVENTS.c.timestamp)
            .where(EVENTS.c.sender_id == sender_id, EVENTS.c.type_name == "session_started")
            .order_by(EVENTS.c.timestamp.desc())
            .limit(1)
        )


def rasa_current_sessions(database_url: str, senders: list[str]) -> dict[str, list[int]]:
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", RASA_CURRENT_SESSION, database_url, json.dumps(senders)],
        capture_output=True,
        encoding="utf-8",
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def purge_rows() -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")))


@pytest.mark.slow
def test_purge_deletes_only_old_rows_outside_current_sessions(
    world: dict[str, str], clinic_db: str
) -> None:
    senders = list(world.values())
    before = {sender: event_times(sender) for sender in senders}
    rasa_before = rasa_current_sessions(clinic_db, senders)
    assert all(rasa_before.values())  # Rasa found the rows at all
    cutoff = days_ago(30).timestamp()

    dry = retention.purge(dry_run=True, now=NOW)
    assert purge_rows() == []
    assert {sender: event_times(sender) for sender in senders} == before
    results = retention.purge(actor="cli:operator", now=NOW)

    assert [(r.clinic_slug, r.events) for r in results] == [(r.clinic_slug, r.events) for r in dry]
    (kept,) = results  # the clinic without a retention period is not touched at all
    after = {sender: event_times(sender) for sender in senders}
    old = world["old_and_current"]
    current_start = latest_session_start(old)
    assert current_start < cutoff  # the current session is older than the cut-off
    assert after[old] == [t for t in before[old] if t >= current_start]
    assert all(t < cutoff for t in before[old] if t < current_start)
    assert after[world["no_sessions"]] == before[world["no_sessions"]]
    recent = world["recent_current"]
    assert after[recent] == [t for t in before[recent] if t >= cutoff]
    assert len(after[recent]) < len(before[recent])
    assert after[world["forever"]] == before[world["forever"]]
    assert after[world["stranger"]] == before[world["stranger"]]
    deleted = sum(len(before[s]) - len(after[s]) for s in senders)
    assert kept.events == deleted > 0

    # Rasa still reads exactly the same current session for every sender.
    assert rasa_current_sessions(clinic_db, senders) == rasa_before

    (row,) = purge_rows()
    assert row.actor == "cli:operator" and row.outcome == "ok"
    assert row.detail == {
        "retention_days": 30,
        "cutoff": days_ago(30).isoformat(),
        "events": deleted,
    }
    # Running it again finds nothing more.
    assert [r.events for r in retention.purge(now=NOW)] == [0]


def test_purge_of_one_clinic_and_of_an_unknown_one(world: dict[str, str]) -> None:
    assert retention.purge(clinic_slug="forever", now=NOW) == []
    with pytest.raises(LookupError):
        retention.purge(clinic_slug="nowhere", now=NOW)
    (result,) = retention.purge(clinic_slug="kept", dry_run=True, now=NOW)
    assert result.events > 0 and result.dry_run


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COMPANION_VAR_DIR": str(tmp_path)},
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_command(world: dict[str, str], tmp_path: Path) -> None:
    total = len(event_times(world["old_and_current"]))
    dry = run_cli("purge", "--dry-run", tmp_path=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("kept\twould delete ") and "forever" not in dry.stdout
    assert len(event_times(world["old_and_current"])) == total

    done = run_cli("purge", "--clinic", "kept", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    count = int(done.stdout.split("\tdeleted ")[1].split()[0])
    assert count == int(dry.stdout.split("\twould delete ")[1].split()[0]) > 0
    assert len(event_times(world["old_and_current"])) < total
    (row,) = purge_rows()
    assert row.actor.startswith("cli:")

    unknown = run_cli("purge", "--clinic", "nowhere", tmp_path=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "No clinic with the slug 'nowhere'."
    assert "Traceback" not in unknown.stderr
