"""A flood of crisis messages (penetration test: 40 flags and 40 notices in 0.6 s from one
patient link) makes one flag per patient and category, and one notice, on SQLite files and
PostgreSQL databases.

Messages are recorded by the real action (``action_record_risk_flag``, as the action server
runs it) from parallel threads and from separate processes; notices go to a real HTTP
receiver. A more urgent message is never folded into the flag the care team was told of.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from action_support import PATIENT, run, turn
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import column as sa_column
from sqlalchemy import select, table, text, update
from sqlalchemy.exc import IntegrityError
from test_notify import WEBHOOK_SECRET, Receiver, http_receiver

from actions.safety import ActionRecordRiskFlag
from bot import encryption, records
from bot.clinics import notify, patients, registry
from bot.journal import entries as journal
from bot.privacy import erasure
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import Patient, RiskFlag, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

CRISIS = {"category": "suicide", "source": "lexicon"}


@pytest.fixture
def flood_db(clinic_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("COMPANION_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.delenv("COMPANION_FLAG_WINDOW_MINUTES", raising=False)
    monkeypatch.delenv("COMPANION_NOTICE_LIMIT", raising=False)
    return clinic_db


@pytest.fixture
def receiver(flood_db: str) -> Iterator[Receiver]:
    with http_receiver() as endpoint:
        yield endpoint


def crisis_turn(domain: dict[str, Any], message: str, sender: str = PATIENT, **detection: Any):
    """The tracker Rasa sends to ``action_record_risk_flag`` after the crisis reply."""
    tracker = turn(
        domain,
        message,
        intent="crisis",
        sender=sender,
        crisis_detection={**CRISIS, **detection},
    )
    reply = "utter_crisis_recent" if detection.get("recent") else "utter_crisis_suicide"
    tracker.events.append({"event": "action", "name": reply})
    return tracker


def record(domain: dict[str, Any], message: str, sender: str = PATIENT, **detection: Any) -> None:
    run(
        ActionRecordRiskFlag(),
        CollectingDispatcher(),
        crisis_turn(domain, message, sender, **detection),
        domain,
    )


def flags_of(sender: str = PATIENT) -> list[RiskFlag]:
    with db.session_scope(write=False) as session:
        found = list(
            session.scalars(
                select(RiskFlag)
                .join(Patient)
                .where(Patient.sender_id == sender)
                .order_by(RiskFlag.id)
            )
        )
        for flag in found:
            session.expunge(flag)
        return found


def raw(flag_id: int, column: str) -> Any:
    """A column as it sits in the database (sealed text stays sealed)."""
    # A bare table, not the model: the model's column types would open the sealed text.
    flags = table("risk_flags", sa_column("id"), sa_column(column))
    with db.get_engine().connect() as connection:
        return connection.execute(select(flags.c[column]).where(flags.c.id == flag_id)).scalar_one()


def backdate(flag_id: int, minutes: float) -> None:
    """Move the flag's latest message ``minutes`` into the past."""
    with db.session_scope() as session:
        session.execute(
            update(RiskFlag)
            .where(RiskFlag.id == flag_id)
            .values(last_message_at=utcnow() - timedelta(minutes=minutes))
        )


def invited(clinic: str = "north") -> str:
    return patients.invite(clinic).sender_id


# ----------------------------------------------------------------------------- the flood


def test_forty_crisis_messages_from_parallel_threads_make_one_flag_with_a_count(
    domain: dict[str, Any], flood_db: str
) -> None:
    messages = [f"I want to end it, message {n}" for n in range(40)]
    start = threading.Barrier(8)

    def write(batch: list[str]) -> None:
        start.wait()
        for message in batch:
            record(domain, message)

    threads = [threading.Thread(target=write, args=(messages[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    (flag,) = flags_of()
    assert flag.message_count == 40
    assert flag.level == "urgent" and flag.category == "suicide"
    later = [m["text"] for m in flag.latest_messages]
    assert len(later) == journal.LATEST_MESSAGES == 5
    assert len(set(later)) == 5 and set(later) <= set(messages) - {flag.message}
    assert flag.message in messages
    # Patient text at rest is sealed, the latest messages too.
    assert str(raw(flag.id, "latest_messages")).startswith(encryption.PREFIX)
    assert "end it" not in str(raw(flag.id, "latest_messages"))


WRITER = """
import asyncio, sys, time
sys.path.insert(0, "tests/support")
from action_support import load_domain, run, turn
from rasa_sdk.executor import CollectingDispatcher
from actions.safety import ActionRecordRiskFlag

domain = load_domain()
start_at, name, count = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
time.sleep(max(0.0, start_at - time.time()))
for n in range(count):
    tracker = turn(domain, f"{name} {n}", intent="crisis", sender="patient-a",
                   crisis_detection={"category": "suicide", "source": "lexicon"})
    tracker.events.append({"event": "action", "name": "utter_crisis_suicide"})
    run(ActionRecordRiskFlag(), CollectingDispatcher(), tracker, domain)
"""


@pytest.mark.slow
def test_two_action_server_processes_writing_at_once_make_one_open_flag(flood_db: str) -> None:
    start_at = time.time() + 3.0
    env = {**os.environ, "DATABASE_URL": flood_db, "PYTHONPATH": str(PROJECT_ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(start_at), name, "15"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("server-one", "server-two", "server-three")
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    assert "failed" not in "".join(err for _, err in outputs), outputs
    (flag,) = flags_of()
    assert flag.message_count == 45


def test_the_database_refuses_a_second_flag_taking_the_same_messages(flood_db: str) -> None:
    flag_id = journal.record_risk_flag(PATIENT, message="first", **CRISIS)
    (flag,) = flags_of()
    assert raw(flag_id, "coalesce_key") == "suicide"

    with pytest.raises(IntegrityError), db.session_scope() as session:
        session.add(
            RiskFlag(
                patient_id=flag.patient_id,
                category="suicide",
                source="lexicon",
                level="urgent",
                message="a racing writer",
                created_at=utcnow(),
                last_message_at=utcnow(),
                coalesce_key="suicide",
            )
        )
    # Flags that take no more messages (NULL) are as many as they need to be.
    with db.session_scope() as session:
        for _ in range(2):
            session.add(
                RiskFlag(
                    patient_id=flag.patient_id,
                    category="suicide",
                    source="lexicon",
                    level="urgent",
                    message="old",
                    created_at=utcnow(),
                    last_message_at=utcnow(),
                )
            )


# ----------------------------------------------------------------------------- escalation, window


def test_a_more_urgent_message_raises_a_flag_of_its_own_and_a_lower_one_joins_it(
    domain: dict[str, Any], flood_db: str
) -> None:
    record(domain, "I took too much last week", recent=True)
    record(domain, "and the week before", recent=True)
    record(domain, "I am going to do it tonight")
    record(domain, "it happened before too", recent=True)
    record(domain, "tonight")

    elevated, urgent = flags_of()
    assert (elevated.level, elevated.message_count) == ("elevated", 2)
    assert (urgent.level, urgent.message_count) == ("urgent", 3)
    assert urgent.message == "I am going to do it tonight"
    assert [m["text"] for m in urgent.latest_messages] == ["it happened before too", "tonight"]
    assert elevated.coalesce_key is None and urgent.coalesce_key == "suicide"


def test_each_category_has_its_own_flag(domain: dict[str, Any], flood_db: str) -> None:
    record(domain, "end it", category="suicide")
    record(domain, "took all of them", category="overdose")
    record(domain, "end it all", category="suicide")

    assert [(f.category, f.message_count) for f in flags_of()] == [("suicide", 2), ("overdose", 1)]


def test_after_the_window_of_quiet_a_new_flag_starts(
    domain: dict[str, Any],
    flood_db: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    record(domain, "first")
    (first,) = flags_of()
    backdate(first.id, 29)
    record(domain, "within thirty minutes of the latest")
    backdate(first.id, 31)
    record(domain, "after thirty minutes of quiet")

    assert [(f.message, f.message_count) for f in flags_of()] == [
        ("first", 2),
        ("after thirty minutes of quiet", 1),
    ]
    monkeypatch.setenv("COMPANION_FLAG_WINDOW_MINUTES", "5")
    backdate(flags_of()[1].id, 6)
    record(domain, "after five")
    assert len(flags_of()) == 3
    assert journal.flag_window() == timedelta(minutes=5)
    for wrong in ("0", "-3", "half an hour"):
        monkeypatch.setenv("COMPANION_FLAG_WINDOW_MINUTES", wrong)
        with caplog.at_level(logging.ERROR, logger="bot.journal.entries"):
            assert journal.flag_window() == timedelta(minutes=30)
        assert "COMPANION_FLAG_WINDOW_MINUTES" in caplog.text
        caplog.clear()
    record(domain, "a typo in the setting costs no flag")
    assert flags_of()[-1].message_count == 2


def test_an_acknowledged_flag_takes_no_more_messages(domain: dict[str, Any], flood_db: str) -> None:
    registry.create("north", "North clinic", origins=["https://north.example"])
    sender = invited()
    record(domain, "first", sender)
    (flag,) = flags_of(sender)
    patient = records.find_patient(flag_clinic(sender), sender)
    assert patient is not None
    records.acknowledge_flag(patient, flag.id, by="dr@north.example")
    record(domain, "after it was seen", sender)

    assert [(f.message, f.message_count) for f in flags_of(sender)] == [
        ("first", 1),
        ("after it was seen", 1),
    ]


def flag_clinic(sender: str) -> int:
    with db.session_scope(write=False) as session:
        return session.scalar(select(Patient.clinic_id).where(Patient.sender_id == sender))


def test_messages_for_the_care_team_are_each_kept(flood_db: str) -> None:
    for words in ("please call me", "and my mum too", "after 5pm"):
        journal.leave_care_team_message(PATIENT, words)

    assert [(f.message, f.message_count) for f in flags_of()] == [
        ("please call me", 1),
        ("and my mum too", 1),
        ("after 5pm", 1),
    ]


# ----------------------------------------------------------------------------- notices


def test_a_flood_gets_one_notice_and_another_patients_first_flag_its_own(
    domain: dict[str, Any], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create(
        "north", "North clinic", origins=["https://north.example"], webhook_url=receiver.url
    )
    monkeypatch.setenv("COMPANION_NOTICE_LIMIT", "2")
    flooder, other = invited(), invited()
    categories = ["suicide", "overdose", "self_harm", "harm_others", "violence"]
    for round_ in range(8):
        for category in categories:
            record(domain, f"{category} {round_}", flooder, category=category)
    record(domain, "I cannot go on", other)

    report = notify.send_pending()

    flood = {f.category: f for f in flags_of(flooder)}
    assert {c: f.message_count for c, f in flood.items()} == dict.fromkeys(categories, 8)
    (others,) = flags_of(other)
    own = [
        json.loads(r.body)
        for r in receiver.requests
        if r.headers["X-Companion-Event"] == notify.EVENT
    ]
    digests = [
        json.loads(r.body)
        for r in receiver.requests
        if r.headers["X-Companion-Event"] == notify.DIGEST_EVENT
    ]
    # The flooder's first two notices, then the limit; the other patient's first is sent anyway.
    assert [n["flag_id"] for n in own] == [flood["suicide"].id, flood["overdose"].id, others.id]
    assert own[0]["message_count"] == 8
    (digest,) = digests
    assert digest["flag_ids"] == [flood[c].id for c in categories[2:]]
    assert [f["message_count"] for f in digest["flags"]] == [8, 8, 8]
    assert sorted(report.sent) == sorted(f.id for f in [*flood.values(), others])
    assert report.digested == digest["flag_ids"]
    assert len(receiver.requests) == 4  # not 41
    for request in receiver.requests:
        assert b"suicide 0" not in request.body and b"cannot go on" not in request.body
    # More messages into flags already announced: no more notices.
    record(domain, "suicide again", flooder, category="suicide")
    assert notify.send_pending().sent == []
    assert len(receiver.requests) == 4


def test_an_escalation_is_announced_on_its_own_past_the_limit(
    domain: dict[str, Any], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create(
        "north", "North clinic", origins=["https://north.example"], webhook_url=receiver.url
    )
    monkeypatch.setenv("COMPANION_NOTICE_LIMIT", "1")
    sender = invited()
    record(domain, "it was last week", sender, recent=True)
    record(domain, "overdosed last month", sender, category="overdose", recent=True)
    notify.send_pending()
    record(domain, "I am doing it now", sender)

    report = notify.send_pending()

    urgent = flags_of(sender)[-1]
    assert urgent.level == "urgent"
    assert report.sent == [urgent.id] and report.digested == []
    assert json.loads(receiver.requests[-1].body)["flag_id"] == urgent.id
    assert receiver.requests[-1].headers["X-Companion-Event"] == notify.EVENT
    # The elevated overdose flag, over the limit and no escalation, went in a digest.
    assert receiver.requests[1].headers["X-Companion-Event"] == notify.DIGEST_EVENT


def test_the_digest_e_mail_lists_flags_without_patient_text(flood_db: str) -> None:
    registry.create("north", "North clinic", origins=["https://north.example"])
    notices = tuple(
        notify.Notice(
            flag_id=flag_id,
            clinic_slug="north",
            clinic_name="North clinic",
            sender_id="p-1",
            category=category,
            source="lexicon",
            created_at=utcnow(),
            emails=("care@north.example",),
            webhook_url=None,
            level=level,
            message_count=count,
        )
        for flag_id, category, level, count in (
            (7, "overdose", "elevated", 3),
            (9, "I hurt", "info", 1),
        )
    )
    digest = notify.Digest("north", "North clinic", ("care@north.example",), None, notices)

    message = notify.digest_email(digest)

    body = message.get_content()
    assert (
        message["Subject"] == "2 more risk flags at North clinic (digest, most pressing: elevated)"
    )
    assert "- Flag 7: elevated, overdose" in body and "3 messages" in body
    assert "- Flag 9: info, category not given" in body and "I hurt" not in body


def test_the_notice_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPANION_NOTICE_LIMIT", raising=False)
    assert notify.notice_limit() == 10
    monkeypatch.setenv("COMPANION_NOTICE_LIMIT", "3")
    assert notify.notice_limit() == 3
    monkeypatch.setenv("COMPANION_NOTICE_LIMIT", "0")
    assert notify.notice_limit() == 10


# ----------------------------------------------------------------------------- erasure, migration


def test_erasure_removes_the_latest_messages_of_a_flag_kept_until_notified(
    domain: dict[str, Any], flood_db: str
) -> None:
    registry.create("north", "North clinic", origins=["https://north.example"])
    sender = invited()
    for n in range(4):
        record(domain, f"the words {n}", sender)
    (flag,) = flags_of(sender)
    assert raw(flag.id, "latest_messages") is not None

    receipt = erasure.erase_patient(sender, "admin@north.example")

    assert receipt.kept_until_notified == 1
    (kept,) = flags_of(sender) or [None]
    assert kept is not None and kept.erased_at is not None
    assert kept.message == "" and raw(kept.id, "latest_messages") is None
    assert raw(kept.id, "coalesce_key") is None
    record(domain, "after the erasure", sender)
    assert [f.message for f in flags_of(sender)] == ["", "after the erasure"]


def test_migration_0007_keeps_old_flags_and_refuses_to_lose_coalesced_ones(
    database_url: str,
) -> None:
    from alembic import command

    db.upgrade(revision="0006")
    with db.get_engine().begin() as connection:
        connection.execute(
            # The schema of revision 0006, not today's models: fixed statements, bound values.
            text(
                "INSERT INTO clinics (slug, name, created_at, origins, crisis_lines, accent_color,"
                " allow_anonymous, notify_emails, erasure_review) VALUES (:slug, :name,"
                " CURRENT_TIMESTAMP, :empty, :empty, :colour, :no, :empty, :no)"
            ),
            {"slug": "demo", "name": "Demo", "empty": "[]", "colour": "#2f6f73", "no": False},
        )
        connection.execute(
            text(
                "INSERT INTO patients (clinic_id, sender_id, created_at, last_seen_at)"
                " SELECT id, :sender, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM clinics"
            ),
            {"sender": "p-old"},
        )
        connection.execute(
            text(
                "INSERT INTO risk_flags (patient_id, category, source, level, message, created_at,"
                " notify_attempts) SELECT id, :category, :source, :level, :m,"
                " CURRENT_TIMESTAMP, 0 FROM patients"
            ),
            {
                "category": "suicide",
                "source": "lexicon",
                "level": "urgent",
                "m": encryption.seal("an old flag"),
            },
        )

    db.upgrade()

    (old,) = flags_of("p-old")
    assert (old.message, old.message_count, old.latest_messages) == ("an old flag", 1, None)
    assert old.last_message_at == old.created_at and old.coalesce_key is None
    journal.record_risk_flag("p-old", message="a new one", **CRISIS)
    journal.record_risk_flag("p-old", message="and another", **CRISIS)
    assert [f.message_count for f in flags_of("p-old")] == [1, 2]
    with pytest.raises(RuntimeError, match="stand for several messages"):
        command.downgrade(db.alembic_config(), "0006")
