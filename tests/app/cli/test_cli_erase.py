"""``python -m bot patient erase`` and the clinics' privacy settings, as real subprocesses."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from data_rights_support import Person, make_person
from sqlalchemy import select

from bot.clinics import registry
from bot.journal import entries as journal
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import AuditEvent

pytestmark = pytest.mark.slow


@pytest.fixture
def person(clinic_db: str) -> Person:
    registry.create("harbour", "Harbour Clinic", origins=["https://harbour.example"])
    return make_person("harbour", "Cli-33aa")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COMPANION_VAR_DIR": str(tmp_path)}


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        cwd=PROJECT_ROOT,
        env=environment(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def on_a_terminal(*args: str, typed: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run with a pseudo-terminal as stdin and type ``typed`` into it."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            command(*args),
            cwd=PROJECT_ROOT,
            env=environment(tmp_path),
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
        )
        os.write(leader, typed.encode() + b"\n")
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(leader)
        os.close(follower)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


#: The person's flag was never notified (their clinic sends no notices) nor acknowledged, so
#: it stays without its text until the care team knows of it (bot.privacy.erasure).
FLAGS_KEPT = (
    "risk_flags\t0 erased, 1 kept without what the patient wrote until the care team is notified"
)


def erasures() -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "erase_patient")))


def test_without_a_terminal_and_without_yes_nothing_is_erased(
    person: Person, tmp_path: Path
) -> None:
    result = run("patient", "erase", "--patient", person.sender_id, tmp_path=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "Refusing to erase without confirmation: run it in a terminal, or pass --yes."
    )
    assert len(journal.recent_entries(person.sender_id)) == 2
    assert erasures() == []


def test_the_operator_types_the_id_to_confirm(person: Person, tmp_path: Path) -> None:
    wrong = on_a_terminal(
        "patient", "erase", "--patient", person.sender_id, typed="p-someone-else", tmp_path=tmp_path
    )
    assert wrong.returncode == 1, wrong.stderr
    assert "Type the patient id to confirm" in wrong.stderr
    assert "did not match: nothing was erased" in wrong.stderr
    assert len(journal.recent_entries(person.sender_id)) == 2

    right = on_a_terminal(
        "patient", "erase", "--patient", person.sender_id, typed=person.sender_id, tmp_path=tmp_path
    )
    assert right.returncode == 0, right.stderr
    assert right.stdout.splitlines()[:2] == ["journal\t2 erased", FLAGS_KEPT]
    assert journal.recent_entries(person.sender_id) == []
    (row,) = erasures()
    assert row.actor.startswith("cli:") and row.target == person.sender_id


def test_yes_erases_and_prints_the_receipt(person: Person, tmp_path: Path) -> None:
    result = run("patient", "erase", "--patient", person.sender_id, "--yes", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "journal",
        "risk_flags",
        "measures",
        "sessions",
        "events",
        "erasure_requests",
    ]
    assert all(re.match(r"\d+ erased", line.split("\t")[1]) for line in lines)
    assert FLAGS_KEPT in lines
    assert "receipt is in the audit log" in result.stderr
    assert journal.export_patient(person.sender_id)["entries"] == []
    (row,) = erasures()
    assert row.outcome == "ok" and row.detail["stores"]["journal"] == {"erased": 2}

    unknown = run("patient", "erase", "--patient", "p-nobody", "--yes", tmp_path=tmp_path)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip() == "No patient with id 'p-nobody' in this database."


def test_a_failed_store_is_reported_with_exit_status_1(person: Person, tmp_path: Path) -> None:
    with db.get_engine().begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER keep BEFORE DELETE ON journal_entries "
            "BEGIN SELECT RAISE(ABORT, 'kept'); END"
        )
    result = run("patient", "erase", "--patient", person.sender_id, "--yes", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "journal\tFAILED (IntegrityError)" in result.stdout
    assert FLAGS_KEPT in result.stdout
    assert result.stderr.splitlines()[-1].startswith("Erasing journal failed; the rest was erased.")
    assert "Traceback" not in result.stderr
    (row,) = erasures()
    assert row.outcome == "failed"


def test_clinic_privacy_settings(clinic_db: str, tmp_path: Path) -> None:
    created = run(
        "clinic",
        "create",
        "--slug",
        "north",
        "--name",
        "North",
        "--origin",
        "https://north.example",
        "--retention-days",
        "90",
        "--no-notify",
        tmp_path=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["retention_days"] == 90
    assert "erasure_review" not in json.loads(created.stdout)

    updated = run(
        "clinic",
        "update",
        "--slug",
        "north",
        "--retention-days",
        "30",
        "--erasure-review",
        tmp_path=tmp_path,
    )
    assert updated.returncode == 0, updated.stderr
    shown = json.loads(updated.stdout)
    assert (shown["retention_days"], shown["erasure_review"]) == (30, True)
    view = registry.get_clinic("north")
    assert (view.retention_days, view.erasure_review) == (30, True)

    cleared = run(
        "clinic",
        "update",
        "--slug",
        "north",
        "--retention-days",
        "none",
        "--no-erasure-review",
        tmp_path=tmp_path,
    )
    assert cleared.returncode == 0, cleared.stderr
    assert not {"retention_days", "erasure_review"} & set(json.loads(cleared.stdout))
    view = registry.get_clinic("north")
    assert (view.retention_days, view.erasure_review) == (None, False)

    for bad in ("0", "-3", "ten", "999999"):
        result = run(
            "clinic", "update", "--slug", "north", "--retention-days", bad, tmp_path=tmp_path
        )
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr, bad
    both = run(
        "clinic",
        "update",
        "--slug",
        "north",
        "--erasure-review",
        "--no-erasure-review",
        tmp_path=tmp_path,
    )
    assert both.returncode == 2
