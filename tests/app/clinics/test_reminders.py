"""Reminders after a session (bot/clinics/reminders.py) on a real database: opt-in and out,
the address sealed at rest, quiet hours in the clinic's time zone, one reminder per day mark,
unsubscribe tokens; and end to end: the web app's own notifier delivers the reminder to a real
SMTP server (aiosmtpd), and the unsubscribe link, followed over HTTP against the real web app,
stops every later reminder."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from servers import serving, web_app_service
from sqlalchemy import select, text

from bot import settings
from bot.clinics import patients, registry, reminders
from bot.journal import entries as journal
from bot.journal import session_calendar
from bot.runner import free_port
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import SessionFollowUp

pytestmark = pytest.mark.databases("sqlite", "postgresql")

ADDRESS = "river.patient@mail.example"
#: What the patient wrote in the chat. No part of it may appear in a reminder.
SENTENCE = "The copper kestrel circled Lake Nipissing while I cried about my brother."
TELLTALES = ("kestrel", "Nipissing", "brother", "ketamine")
DAY = date(2026, 11, 2)
START = datetime(2026, 11, 2, tzinfo=UTC)
SMTP_VARIABLES = ("COMPANION_SMTP_USER", "COMPANION_SMTP_PASSWORD")


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    messages: list[Envelope] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1) -> Message:
        return email.message_from_bytes(
            self.messages[index].original_content, policy=email.policy.default
        )


@pytest.fixture
def inbox(clinic_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback, with the mail settings pointing at it."""
    kept = Inbox()
    controller = Controller(kept, hostname="127.0.0.1", port=free_port())
    controller.start()
    kept.port = controller.port
    monkeypatch.setenv("COMPANION_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COMPANION_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("COMPANION_SMTP_STARTTLS", "0")
    monkeypatch.setenv("COMPANION_SMTP_FROM", "noreply@companion.example")
    for name in SMTP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    try:
        yield kept
    finally:
        controller.stop()


@pytest.fixture
def sender(clinic_db: str) -> str:
    """A patient of Harbour Recovery who wrote something in the chat and had a session."""
    registry.create(
        "harbour",
        "Harbour Recovery",
        origins=["https://harbour.example"],
        patient_url="https://harbour.example/chat",
        quiet_hours="",
    )
    patient = patients.invite("harbour").sender_id
    journal.save_entry(patient, "checkin", fields={"note": SENTENCE}, mood=4)
    return patient


def record(sender: str, day: date = DAY) -> None:
    assert session_calendar.record_session(sender, day, by="dr.lee", source="staff", today=day)


def follow_ups() -> list[tuple[int, str, bool]]:
    with db.session_scope(write=False) as session:
        rows = session.scalars(select(SessionFollowUp).order_by(SessionFollowUp.id))
        return [(row.mark, row.channel, row.sent_at is not None) for row in rows]


# ----------------------------------------------------------------------------- opt-in and out


def test_opting_in_seals_the_address_and_opting_out_stops(sender: str) -> None:
    assert (
        reminders.check_address("  <River.Patient@mail.example> ") == "River.Patient@mail.example"
    )
    assert reminders.check_address("not an address") is None
    with pytest.raises(ValueError):
        reminders.subscribe(sender, "river at mail")
    made = reminders.subscribe(sender, ADDRESS)
    assert made is not None and made.address == ADDRESS
    with db.get_engine().connect() as connection:
        raw = connection.execute(text("SELECT address FROM reminder_subscriptions")).scalar_one()
    assert ADDRESS not in raw and "river" not in raw
    # A second opt-in replaces the first; one is active at most.
    again = reminders.subscribe(sender, "new@mail.example")
    assert again is not None
    active = reminders.active_subscription(sender)
    assert active is not None and active.address == "new@mail.example"
    assert reminders.stop(sender) is True
    assert reminders.stop(sender) is False
    assert reminders.active_subscription(sender) is None
    assert reminders.subscribe("nobody", ADDRESS) is None


def test_unsubscribe_tokens_are_signed(sender: str) -> None:
    made = reminders.subscribe(sender, ADDRESS)
    assert made is not None
    token = reminders.unsubscribe_token(made.id)
    assert reminders.read_unsubscribe_token(token) == made.id
    forged = f"{made.id + 1}.{token.split('.')[1]}"
    assert reminders.read_unsubscribe_token(forged) is None
    assert reminders.read_unsubscribe_token("1.x") is None
    target = reminders.unsubscribe_by_token(token)
    assert target is not None and target.stopped and target.clinic_name == "Harbour Recovery"
    assert reminders.active_subscription(sender) is None
    assert reminders.unsubscribe_by_token(token) is not None  # again: still fine


# ----------------------------------------------------------------------------- when


def test_quiet_hours_span_midnight_in_the_clinics_time_zone() -> None:
    london = ZoneInfo("Europe/London")
    at = datetime(2026, 7, 1, tzinfo=UTC)  # 01:00 in London (BST)
    assert reminders.quiet(at.replace(hour=19, minute=59), london, "21:00-08:00") is False
    assert reminders.quiet(at.replace(hour=20), london, "21:00-08:00") is True
    assert reminders.quiet(at.replace(hour=6, minute=59), london, "21:00-08:00") is True
    assert reminders.quiet(at.replace(hour=7), london, "21:00-08:00") is False
    assert reminders.quiet(at.replace(hour=12), london, "12:00-14:00") is True
    assert reminders.quiet(at.replace(hour=13), london, "12:00-14:00") is False
    assert reminders.quiet(at.replace(hour=3), london, "") is False
    with pytest.raises(registry.ClinicError):
        registry.check_quiet_hours("9pm-8am")
    with pytest.raises(registry.ClinicError):
        registry.check_timezone("Mars/Olympus")


def test_one_reminder_per_mark_never_in_quiet_hours(sender: str, inbox: Inbox) -> None:
    registry.update("harbour", quiet_hours="21:00-08:00")
    record(sender)
    reminders.subscribe(sender, ADDRESS)
    # Day 1 opens at midnight: quiet until 08:00, then sent once.
    assert reminders.send_due(now=START + timedelta(days=1, hours=3)).queued == []
    report = reminders.send_due(now=START + timedelta(days=1, hours=8))
    assert len(report.sent) == 1 and report.failed == {}
    assert reminders.send_due(now=START + timedelta(days=1, hours=9)).sent == []
    # Nothing between the marks; day 3 and day 7 once each.
    assert reminders.send_due(now=START + timedelta(days=2, hours=12)).queued == []
    assert len(reminders.send_due(now=START + timedelta(days=3, hours=12)).sent) == 1
    assert len(reminders.send_due(now=START + timedelta(days=7, hours=20)).sent) == 1
    assert reminders.send_due(now=START + timedelta(days=7, hours=21)).sent == []
    assert reminders.send_due(now=START + timedelta(days=9, hours=12)).queued == []
    assert follow_ups() == [(1, "email", True), (3, "email", True), (7, "email", True)]
    assert len(inbox.messages) == 3


def test_a_failed_reminder_is_retried_and_a_stopped_one_never_sent(
    sender: str, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(sender)
    reminders.subscribe(sender, ADDRESS)
    monkeypatch.setenv("COMPANION_SMTP_PORT", str(free_port()))  # nobody listens there
    day_one = START + timedelta(days=1, hours=10)
    failed = reminders.send_due(now=day_one)
    assert len(failed.failed) == 1 and follow_ups() == [(1, "email", False)]
    assert reminders.send_due(now=day_one + timedelta(seconds=1)).waiting == list(failed.failed)
    monkeypatch.setenv("COMPANION_SMTP_PORT", str(inbox.port))
    assert list(reminders.send_due(now=day_one + timedelta(seconds=5)).sent) == list(failed.failed)
    assert len(inbox.messages) == 1

    reminders.stop(sender)
    assert reminders.send_due(now=START + timedelta(days=3, hours=10)).queued == []
    assert len(inbox.messages) == 1


# ----------------------------------------------------------------------------- end to end


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


@pytest.mark.slow
def test_a_reminder_reaches_a_real_smtp_server_and_its_link_unsubscribes(
    sender: str, inbox: Inbox, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    record(sender, (now - timedelta(days=1, hours=1)).date())
    reminders.subscribe(sender, ADDRESS)
    port = free_port()
    service = web_app_service(port)
    env = {
        "DATABASE_URL": settings.database_url(),
        "COMPANION_NOTIFY_INTERVAL": "0.2",
        "COMPANION_PUBLIC_WEB_URL": f"http://127.0.0.1:{port}",
        "COMPANION_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    with serving(service, env):
        wait_for(lambda: len(inbox.messages) == 1)
        mail = inbox.parsed()
        assert inbox.messages[0].rcpt_tos == [ADDRESS]
        body = mail.get_content()
        whole = mail.as_string()
        assert "Harbour Recovery" in mail["From"] and "Harbour Recovery" in mail["Subject"]
        assert "Harbour Recovery" in body and "https://harbour.example/chat" in body
        assert not any(word.lower() in whole.lower() for word in TELLTALES), whole
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = re.fullmatch(r"<(.+)>", mail["List-Unsubscribe"])
        assert link is not None and link[1] in body
        url = link[1]
        assert url.startswith(f"http://127.0.0.1:{port}/reminders/unsubscribe/")

        # Opening the link only asks; the one-click POST stops the reminders.
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and "Stop reminders" in page.text
        assert "no-store" in page.headers["Cache-Control"]
        assert reminders.active_subscription(sender) is not None
        done = requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert done.status_code == 200 and "no more reminders" in done.text
        assert reminders.active_subscription(sender) is None
        assert requests.get(url[:-3] + "abc", timeout=10).status_code == 404

    assert len(inbox.messages) == 1
    # Day 3 of the same session: the outbox queues nothing for a patient who unsubscribed.
    day = (now - timedelta(days=1, hours=1)).date()
    day_three = datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(days=3)
    report = reminders.send_due(now=day_three)
    assert report.queued == [] and report.sent == []
    assert len(inbox.messages) == 1


# ----------------------------------------------------------------------------- the patient's rights


def test_the_patients_copy_has_them_and_an_erasure_takes_them(sender: str) -> None:
    from bot.privacy import erasure, my_data

    record(sender)
    session_calendar.record_patient_session(sender, DAY + timedelta(days=7))
    reminders.subscribe(sender, ADDRESS)
    assert reminders.send_due(now=START + timedelta(days=7, hours=30)).queued  # a follow-up row

    document = my_data.export_document(sender)
    assert [s["recorded_by"] for s in document["sessions"]] == ["patient", "care team"]
    assert [(r["address"], r["stopped_at"]) for r in document["reminders"]] == [(ADDRESS, None)]

    receipt = erasure.erase_patient(sender, "patient")
    assert receipt.stores["sessions"] == {
        "erased": 1,
        "reminder_subscriptions": 1,
        "follow_ups": 1,
    }
    assert reminders.active_subscription(sender) is None
    assert [s.source for s in session_calendar.recorded_sessions(sender)] == ["staff"]
    assert follow_ups() == []
