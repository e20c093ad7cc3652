"""The audit log: recording, querying, the database's refusal to rewrite it, and
``python -m bot audit`` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from bot.clinics import audit, registry
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import AuditEvent

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture
def two_clinics(clinic_db: str) -> tuple[int, int]:
    ids = []
    for slug in ("north", "south"):
        registry.create(slug, slug.title(), origins=[f"https://{slug}.example"])
        with db.session_scope(write=False) as session:
            ids.append(session.scalar(text("SELECT id FROM clinics WHERE slug = :s"), {"s": slug}))
    return ids[0], ids[1]


def _add(at: datetime, **values) -> None:
    """A row with a chosen time (record() always stamps now)."""
    row = {"clinic_id": 1, "actor": "ann@north.example", "action": "login", "outcome": "ok"}
    row.update(values)
    with db.session_scope() as session:
        session.add(AuditEvent(at=at, detail={}, **row))


def test_record_and_query_newest_first(two_clinics: tuple[int, int]) -> None:
    north, south = two_clinics
    audit.record("login", actor="ann@north.example", clinic_id=north, ip="192.0.2.1")
    audit.record(
        "view_patient", actor="ann@north.example", clinic_id=north, target="p-1", ip="192.0.2.1"
    )
    audit.record(
        "export",
        actor="ann@north.example",
        clinic_id=north,
        target="p-1",
        detail={"format": "csv"},
    )
    audit.record("login", actor="bob@south.example", clinic_id=south, outcome="failed")
    rows = audit.query(north)
    assert [row.action for row in rows] == ["export", "view_patient", "login"]
    assert rows[0].detail == {"format": "csv"} and rows[0].target == "p-1"
    assert rows[2].ip == "192.0.2.1" and rows[2].outcome == "ok"
    assert rows[0].at.tzinfo is not None
    assert [row.actor for row in audit.query(south)] == ["bob@south.example"]
    assert rows[0].as_dict()["detail"] == {"format": "csv"}


def test_query_filters(two_clinics: tuple[int, int]) -> None:
    north, _ = two_clinics
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _add(base, clinic_id=north, actor="ann@north.example", action="login")
    _add(base + timedelta(days=1), clinic_id=north, actor="bob@north.example", action="login")
    _add(base + timedelta(days=2), clinic_id=north, actor="ann@north.example", action="export")
    assert len(audit.query(north, action="login")) == 2
    assert [r.actor for r in audit.query(north, actor="ANN@north.example ")] == [
        "ann@north.example",
        "ann@north.example",
    ]
    assert len(audit.query(north, since=base + timedelta(days=1))) == 2  # inclusive
    assert len(audit.query(north, until=base + timedelta(days=1))) == 1  # exclusive
    assert len(audit.query(north, limit=1)) == 1
    assert audit.query(north, action="view_audit") == []


def test_parse_moment() -> None:
    assert audit.parse_moment("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert audit.parse_moment("2026-03-01", end=True) == datetime(2026, 3, 2, tzinfo=UTC)
    assert audit.parse_moment("2026-03-01T14:30") == datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
    assert audit.parse_moment("2026-03-01T14:30+02:00") == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        audit.parse_moment("yesterday")


def test_record_refuses_unknown_actions_and_outcomes(two_clinics: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record("peek", actor="x", clinic_id=None)
    with pytest.raises(ValueError, match="unknown audit outcome"):
        audit.record("login", actor="x", clinic_id=None, outcome="maybe")


def test_long_values_are_cut_not_lost(two_clinics: tuple[int, int]) -> None:
    north, _ = two_clinics
    audit.record("login", actor="a" * 1000, clinic_id=north, target="t" * 1000, ip="9" * 100)
    (row,) = audit.query(north)
    assert (len(row.actor), len(row.target or ""), len(row.ip or "")) == (320, 255, 64)


def test_record_raises_when_it_cannot_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """An access that cannot be audited must not happen: the caller sees the failure."""
    if database_backend == "sqlite":
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        unusable = f"sqlite:///{blocker / 'companion.db'}"
    else:
        unusable = request.getfixturevalue("postgres_server").url("no_such_database")
    monkeypatch.setenv("DATABASE_URL", unusable)
    db.reset_engines()
    try:
        with pytest.raises(Exception):  # noqa: B017 - any failure, as long as it is not hidden
            audit.record("view_patient", actor="ann@north.example", clinic_id=1)
    finally:
        db.reset_engines()


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEvent).values(actor="someone else"),
        update(AuditEvent).values(outcome="denied"),
        delete(AuditEvent),
    ],
    ids=["update-actor", "update-outcome", "delete"],
)
def test_the_database_refuses_to_rewrite_the_log(two_clinics: tuple[int, int], statement) -> None:
    north, _ = two_clinics
    audit.record("login", actor="ann@north.example", clinic_id=north)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session_scope() as session:
            session.execute(statement)
    (row,) = audit.query(north)
    assert (row.actor, row.outcome) == ("ann@north.example", "ok")


@pytest.mark.databases("postgresql")
def test_postgresql_refuses_truncate_too(two_clinics: tuple[int, int]) -> None:
    """TRUNCATE fires no row triggers; a statement trigger of its own refuses it."""
    north, _ = two_clinics
    audit.record("login", actor="ann@north.example", clinic_id=north)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session_scope() as session:
            session.execute(text("TRUNCATE audit_log"))
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session_scope() as session:
            session.execute(text("TRUNCATE audit_log CASCADE"))
    assert len(audit.query(north)) == 1


def test_the_orm_cannot_delete_a_row_either(two_clinics: tuple[int, int]) -> None:
    north, _ = two_clinics
    audit.record("login", actor="ann@north.example", clinic_id=north)
    (recorded,) = audit.query(north)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session_scope() as session:
            session.delete(session.get(AuditEvent, recorded.id))
    assert len(audit.query(north)) == 1


def test_the_outcome_is_checked_by_the_database(two_clinics: tuple[int, int]) -> None:
    with pytest.raises(DBAPIError):
        with db.session_scope() as session:
            session.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, outcome, detail) "
                    "VALUES ('2026-01-01 00:00:00', 'x', 'login', 'fine', '{}')"
                )
            )


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(two_clinics: tuple[int, int], tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(PROJECT_ROOT),
                "COMPANION_VAR_DIR": str(tmp_path / "var"),
                "USER": "operator",
                "LOGNAME": "operator",
            },
            capture_output=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    return run


@pytest.mark.slow
def test_cli_prints_the_clinics_log_newest_first(cli, two_clinics: tuple[int, int]) -> None:
    north, south = two_clinics
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _add(base, clinic_id=north, actor="ann@north.example", action="login", ip="192.0.2.1")
    _add(
        base + timedelta(hours=1),
        clinic_id=north,
        actor="ann@north.example",
        action="access_denied",
        outcome="denied",
        target="p-9",
    )
    _add(base, clinic_id=south, actor="bob@south.example", action="login")
    with db.session_scope() as session:
        session.add(
            AuditEvent(
                at=base + timedelta(hours=2),
                clinic_id=north,
                actor="evil\n2026-01-01\tfake\trow",
                action="login",
                outcome="failed",
                detail={"reason": "bad_credentials"},
            )
        )

    result = cli("audit", "--clinic", "north")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split("\t")[1:4] == ["cli:operator", "view_audit", "ok"]
    assert lines[1].split("\t") == [
        "2026-03-01T14:00:00+00:00",
        "evil 2026-01-01 fake row",
        "login",
        "failed",
        "-",
        "-",
        '{"reason": "bad_credentials"}',
    ]
    assert lines[2].split("\t") == [
        "2026-03-01T13:00:00+00:00",
        "ann@north.example",
        "access_denied",
        "denied",
        "p-9",
        "-",
    ]
    assert lines[3].split("\t") == [
        "2026-03-01T12:00:00+00:00",
        "ann@north.example",
        "login",
        "ok",
        "-",
        "192.0.2.1",
    ]
    assert "bob@south.example" not in result.stdout
    # Reading the log was recorded, with who ran the command.
    (viewed,) = audit.query(north, action="view_audit")
    assert viewed.actor == "cli:operator"


@pytest.mark.slow
def test_cli_filters(cli, two_clinics: tuple[int, int]) -> None:
    north, _ = two_clinics
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _add(base, clinic_id=north, action="login")
    _add(base + timedelta(days=1), clinic_id=north, action="export", target="p-1")

    logins = cli("audit", "--clinic", "north", "--action", "login")
    assert [line.split("\t")[2] for line in logins.stdout.splitlines()] == ["login"]
    since = cli("audit", "--clinic", "north", "--since", "2026-03-02", "--until", "2026-03-02")
    assert [line.split("\t")[2] for line in since.stdout.splitlines()] == ["export"]
    as_json = json.loads(cli("audit", "--clinic", "north", "--json").stdout)
    assert [row["action"] for row in as_json][-2:] == ["export", "login"]
    recorded = audit.query(north, action="view_audit")
    assert recorded[-1].detail == {"action": "login"}
    assert recorded[-2].detail == {
        "since": "2026-03-02T00:00:00+00:00",
        "until": "2026-03-03T00:00:00+00:00",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--clinic", "nowhere"], "No clinic with the slug 'nowhere'."),
        (["--clinic", "Not A Slug"], "is not a usable clinic slug"),
        (["--clinic", "north", "--action", "peek"], "Unknown action 'peek'"),
    ],
)
def test_cli_errors(cli, args: list[str], words: str) -> None:
    result = cli("audit", *args)
    assert result.returncode == 1, result.stdout
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert words in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_cli_refuses_what_is_not_a_date(cli) -> None:
    result = cli("audit", "--clinic", "north", "--since", "last tuesday")
    assert result.returncode == 2
    assert "is not a date like 2026-11-27" in result.stderr
