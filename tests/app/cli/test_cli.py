"""``python -m bot`` as a real subprocess against a real database file."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main as cli
from bot.journal import entries as journal
from bot.settings import PROJECT_ROOT
from bot.storage import db

FORMULA = '=HYPERLINK("http://evil.example","click")'
NOTE = "Slept well 😴\nthen a walk — 散步\n  indented"


def run_cli(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PYTHONPATH": str(PROJECT_ROOT),
            **env,
        },
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


@pytest.fixture
def journal_with_entries(database_url: str) -> str:
    journal.save_entry(
        "demo-7",
        "trigger",
        fields={
            "trigger_kind": "craving",
            "trigger_types": ["people", "places"],
            "trigger_types_text": "my old friends, the bar",
            "halt": ["angry"],
            "context": FORMULA,
            "coping": "-called my sponsor",
        },
        craving=9,
    )
    journal.update_entry_fields(
        "demo-7",
        1,
        {
            "urge_surfing": {
                "before": 9,
                "location": "@throat",
                "change": "less",
                "after": 5,
            }
        },
    )
    journal.save_entry("demo-7", "checkin", fields={"note": NOTE}, mood=6, craving=2)
    journal.record_risk_flag("demo-7", message="+so tired", category=None, source="detector")
    journal.save_entry("someone-else", "checkin", fields={"note": "not in the export"})
    db.reset_engines()
    return database_url


@pytest.mark.slow
def test_export_json(journal_with_entries: str) -> None:
    # An ASCII-only locale must not turn the export into escapes or make it fail.
    result = run_cli(
        "export",
        "--patient",
        "demo-7",
        "--format",
        "json",
        database_url=journal_with_entries,
        PYTHONIOENCODING="ascii",
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "😴" in result.stdout
    assert "散步" in result.stdout
    assert "\\u" not in result.stdout
    assert result.stdout.startswith("{\n  ")
    exported = json.loads(result.stdout)
    assert exported["patient"] == "demo-7"
    assert exported["clinic"] == "demo"
    assert [entry["number"] for entry in exported["entries"]] == [1, 2]
    assert exported["entries"][0]["fields"]["context"] == FORMULA
    assert exported["entries"][0]["fields"]["urge_surfing"]["location"] == "@throat"
    assert exported["entries"][1]["fields"]["note"] == NOTE
    assert [flag["message"] for flag in exported["risk_flags"]] == ["+so tired"]
    assert "not in the export" not in result.stdout


@pytest.mark.slow
def test_export_csv(journal_with_entries: str) -> None:
    result = run_cli(
        "export",
        "--patient",
        "demo-7",
        "--format",
        "csv",
        database_url=journal_with_entries,
    )

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert list(rows[0])[:7] == list(cli.CSV_BASE_COLUMNS)
    assert list(rows[0])[7:] == [
        "trigger_kind",
        "trigger_types",
        "trigger_types_text",
        "halt",
        "context",
        "coping",
        "urge_surfing.before",
        "urge_surfing.location",
        "urge_surfing.change",
        "urge_surfing.after",
        "note",
    ]
    trigger, checkin = rows
    assert trigger["number"] == "1"
    assert trigger["kind"] == "trigger"
    assert trigger["craving"] == "9"
    assert trigger["mood"] == ""
    assert trigger["session_date"] == ""
    assert trigger["trigger_types"] == "people; places"
    assert trigger["trigger_types_text"] == "my old friends, the bar"
    assert trigger["context"] == "'" + FORMULA
    assert trigger["coping"] == "'-called my sponsor"
    assert trigger["urge_surfing.before"] == "9"
    assert trigger["urge_surfing.location"] == "'@throat"
    assert trigger["note"] == ""
    assert checkin["note"] == NOTE
    assert checkin["mood"] == "6"
    assert checkin["trigger_kind"] == ""
    assert checkin["created_at"] == journal.recent_entries("demo-7")[0].created_at.isoformat()


@pytest.mark.slow
def test_export_unknown_patient(journal_with_entries: str) -> None:
    result = run_cli("export", "--patient", "ghost", database_url=journal_with_entries)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "No patient with id 'ghost' in this database.\n"


@pytest.mark.slow
def test_export_reports_an_unusable_database_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'companion.db'}"

    result = run_cli("export", "--patient", "x", database_url=url)

    assert result.returncode == 1
    assert result.stderr.startswith("Could not use the database at sqlite:///")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_db_upgrade(database_url: str, database_path: Path) -> None:
    result = run_cli("db", "upgrade", database_url=database_url)

    assert result.returncode == 0, result.stderr
    assert "0012" in result.stdout
    with sqlite3.connect(database_path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"clinics", "patients", "journal_entries", "risk_flags"} <= tables


def test_usage_errors_exit_2(database_url: str) -> None:
    result = run_cli("export", "--patient", "x", "--format", "xml", database_url=database_url)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_prefixes_are_neutralised(prefix: str) -> None:
    assert cli.neutralise_formula(prefix + "1+1") == "'" + prefix + "1+1"


@pytest.mark.parametrize("text", ["", "plain", " =not first", "a=b", "'quoted", "5-3"])
def test_other_text_is_left_alone(text: str) -> None:
    assert cli.neutralise_formula(text) == text


def test_flatten_fields() -> None:
    flattened = cli.flatten_fields(
        {
            "halt": ["hungry", "tired"],
            "urge_surfing": {"before": 7, "after": None, "location": "gut"},
            "done": True,
            "empty": [],
        }
    )
    assert flattened == {
        "halt": "hungry; tired",
        "urge_surfing.before": "7",
        "urge_surfing.after": "",
        "urge_surfing.location": "gut",
        "done": "true",
        "empty": "",
    }


def test_every_command_has_a_handler() -> None:
    parser = cli.build_parser()
    for argv in (["run"], ["export", "--patient", "x"], ["db", "upgrade"]):
        assert callable(parser.parse_args(argv).handler)
