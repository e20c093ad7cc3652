"""The referrals report (bot/records/referrals.py, ``python -m bot report referrals``) on a real
database: crisis replies from the sealed tracker store and risk flags, for one clinic and one
month exactly, with nothing of another clinic or month and no patient's id or words."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from conftest import CliRun, one_line_error
from dashboard_seed import _Conversation
from data_rights_support import insert_events
from sqlalchemy import select

from bot import encryption
from bot.clinics import patients, registry
from bot.records import referrals
from bot.storage import db
from bot.storage.models import AuditEvent, Patient, RiskFlag

pytestmark = pytest.mark.databases("sqlite", "postgresql")

MARCH = "2026-03"
#: What each patient's messages said: none of it may reach the report.
WORDS = "the blue kettle on my grandmother's stove"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def replies(sender_id: str, moment: datetime, *utters: str) -> list[dict[str, object]]:
    """The ``events`` rows of a session that starts just before ``moment`` and sends ``utters``
    (each a named response, as Rasa stores it: ``metadata.utter_action``), sealed."""
    chat = _Conversation(sender_id, moment, iter(f"{n:032x}" for n in range(10**6)))
    for utter in utters:
        chat.user(f"{WORDS} ({sender_id})", intent="crisis", after=1.0)
        chat.bot(utter, f"A reply to {WORDS}")
    for row in chat.rows:
        row["data"] = encryption.seal(str(row["data"]))
    return chat.rows


def flag(
    sender_id: str, moment: datetime, category: str | None, level: str, messages: int = 1
) -> None:
    with db.session_scope() as session:
        patient = session.scalars(select(Patient).where(Patient.sender_id == sender_id)).one()
        session.add(
            RiskFlag(
                patient_id=patient.id,
                category=category,
                source="detector",
                level=level,
                message=f"{WORDS} ({sender_id})",
                created_at=moment,
                last_message_at=moment,
                message_count=messages,
            )
        )


@pytest.fixture
def seeded(clinic_db: str) -> dict[str, str]:
    registry.create("northgate", "Northgate", origins=["https://northgate.example"])
    registry.create("southgate", "Southgate", origins=["https://southgate.example"])
    a = patients.invite("northgate").sender_id
    b = patients.invite("northgate").sender_id
    c = patients.invite("southgate").sender_id
    rows = replies(
        a,
        at("2026-03-02T10:00:00"),
        "utter_greet",
        "utter_crisis_suicide",
        "utter_ask_safety",
        "utter_crisis_overdose",
        "utter_safety_answer_no",
    )
    # Sent by an action inside a form (dispatcher.utter_message(response=...)): stored alike.
    rows += replies(a, at("2026-03-15T22:00:00"), "utter_crisis_suicide", "utter_crisis_recent")
    rows += replies(b, at("2026-03-31T23:59:58"), "utter_crisis_suicide")  # still March
    rows += replies(b, at("2026-04-01T00:00:00"), "utter_crisis_suicide")  # April
    rows += replies(b, at("2026-02-28T23:59:00"), "utter_crisis_child")  # February
    rows += replies(c, at("2026-03-10T12:00:00"), "utter_crisis_violence", "utter_crisis_violence")
    insert_events(rows)
    flag(a, at("2026-03-02T10:00:01"), "suicide", "urgent", messages=3)
    flag(a, at("2026-03-02T10:00:05"), "overdose", "urgent")
    flag(b, at("2026-03-20T09:00:00"), "recent_event", "elevated")
    flag(b, at("2026-03-21T09:00:00"), None, "urgent")
    flag(b, at("2026-03-31T23:59:59"), "suicide", "urgent")
    flag(b, at("2026-04-01T00:00:00"), "suicide", "urgent")
    flag(c, at("2026-03-10T12:00:01"), "violence", "urgent", messages=2)
    return {"a": a, "b": b, "c": c}


def test_the_counts_are_exact_for_the_clinic_and_month(seeded: dict[str, str]) -> None:
    report = referrals.referral_report("northgate", MARCH)

    assert report.as_dict() == {
        "clinic": "northgate",
        "month": MARCH,
        "crisis_replies": [
            {"kind": "ask", "level": "ask", "count": 1},
            {"kind": "overdose", "level": "urgent", "count": 1},
            {"kind": "recent", "level": "recent", "count": 1},
            {"kind": "suicide", "level": "urgent", "count": 3},
        ],
        "risk_flags": [
            {"category": "overdose", "level": "urgent", "count": 1, "messages": 1},
            {"category": "suicide", "level": "urgent", "count": 2, "messages": 4},
            {"category": "unspecified", "level": "urgent", "count": 1, "messages": 1},
            {"category": "recent_event", "level": "elevated", "count": 1, "messages": 1},
        ],
    }
    april = referrals.referral_report("northgate", "2026-04").as_dict()
    assert april["crisis_replies"] == [{"kind": "suicide", "level": "urgent", "count": 1}]
    assert april["risk_flags"] == [
        {"category": "suicide", "level": "urgent", "count": 1, "messages": 1}
    ]
    south = referrals.referral_report("southgate", MARCH).as_dict()
    assert south["crisis_replies"] == [{"kind": "violence", "level": "urgent", "count": 2}]
    assert south["risk_flags"] == [
        {"category": "violence", "level": "urgent", "count": 1, "messages": 2}
    ]
    assert referrals.referral_report("southgate", "2026-05").as_dict()["crisis_replies"] == []


def test_a_database_where_rasa_never_ran_counts_flags_only(clinic_db: str) -> None:
    registry.create("northgate", "Northgate", origins=["https://northgate.example"])
    sender = patients.invite("northgate").sender_id
    flag(sender, at("2026-03-05T08:00:00"), "self_harm", "urgent")
    report = referrals.referral_report("northgate", MARCH)
    assert report.crisis_replies == ()
    assert [(r.kind, r.count) for r in report.risk_flags] == [("self_harm", 1)]


def assert_no_patient_data(output: str, seeded: dict[str, str]) -> None:
    for sender_id in seeded.values():
        assert sender_id not in output
    assert "kettle" not in output and "reply to" not in output


@pytest.mark.slow
def test_the_command_prints_a_table_json_and_csv(seeded: dict[str, str], run_cli: CliRun) -> None:
    table = run_cli("report", "referrals", "--clinic", "northgate", "--month", MARCH)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "Crisis replies and risk flags at northgate in 2026-03 (UTC)"
    assert any(line.split() == ["suicide", "urgent", "3"] for line in lines)
    assert any(line.split() == ["total", "6"] for line in lines)
    assert any(line.split() == ["suicide", "urgent", "2", "4"] for line in lines)
    assert any(line.split() == ["recent_event", "elevated", "1", "1"] for line in lines)
    assert any(line.split() == ["total", "5", "7"] for line in lines)
    assert "small count" in table.stdout
    assert_no_patient_data(table.stdout, seeded)

    as_json = run_cli(
        "report", "referrals", "--clinic", "northgate", "--month", MARCH, "--format", "json"
    )
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == referrals.referral_report("northgate", MARCH).as_dict()
    assert_no_patient_data(as_json.stdout, seeded)

    as_csv = run_cli(
        "report", "referrals", "--clinic", "southgate", "--month", MARCH, "--format", "csv"
    )
    assert as_csv.returncode == 0, as_csv.stderr
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["section", "kind", "level", "count", "messages"],
        ["crisis_reply", "violence", "urgent", "2", ""],
        ["risk_flag", "violence", "urgent", "1", "2"],
    ]
    assert_no_patient_data(as_csv.stdout, seeded)

    with db.session_scope(write=False) as session:
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "referrals_report")
        ).all()
    assert [(row.actor.startswith("cli:"), row.detail) for row in audited] == [
        (True, {"month": MARCH, "format": "table"}),
        (True, {"month": MARCH, "format": "json"}),
        (True, {"month": MARCH, "format": "csv"}),
    ]


@pytest.mark.slow
def test_an_unknown_clinic_or_a_malformed_month_is_one_line(
    seeded: dict[str, str], run_cli: CliRun
) -> None:
    unknown = run_cli("report", "referrals", "--clinic", "nowhere", "--month", MARCH)
    assert one_line_error(unknown) == "No clinic 'nowhere' in this database.\n"
    month = run_cli("report", "referrals", "--clinic", "northgate", "--month", "March")
    assert one_line_error(month) == "'March' is not a month like 2026-11.\n"
