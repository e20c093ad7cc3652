"""A reminder e-mail reaches a real SMTP server (aiosmtpd) and its unsubscribe link, opened in
Chromium against the browser stack's web app, asks first and then stops the reminders.

The reminder goes out through :func:`bot.clinics.reminders.send_due`, the pass the web app's
notifier thread runs, in this process against the stack's database with the mail settings
pointing at the test's SMTP server. The stack's own notifier has no SMTP server; the clinic's
quiet hours cover the real clock while the test runs, so it never queues nor claims this
clinic's reminders, and the test's passes run at a moment ``now`` outside them.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from browser_support import PageWatch, Stack
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import select

from bot.clinics import patients, registry, reminders
from bot.journal import entries as journal
from bot.journal import session_calendar
from bot.runner import free_port
from bot.storage import db
from bot.storage.models import Patient, ReminderSubscription, SessionFollowUp

SLUG = "kestrel-reminders"
NAME = "Kestrel Bay Recovery"
CHAT_URL = "https://kestrel-bay.example/chat"
ADDRESS = "heron.patient@mail.example"
#: What the patient wrote in the chat. No part of it may appear in a reminder.
SENTENCE = "The silver otter swam past Ardnamurchan while I thought about my sister."
TELLTALES = ("otter", "Ardnamurchan", "sister", "ketamine")


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    messages: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1) -> Message:
        return email.message_from_bytes(
            self.messages[index].original_content, policy=email.policy.default
        )


@pytest.fixture
def inbox(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on a free loopback port; this process's mail settings (read when a
    message is sent) point at it."""
    kept = Inbox()
    controller = Controller(kept, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("COMPANION_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COMPANION_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("COMPANION_SMTP_STARTTLS", "0")
    monkeypatch.setenv("COMPANION_SMTP_FROM", "noreply@companion.example")
    monkeypatch.delenv("COMPANION_SMTP_USER", raising=False)
    monkeypatch.delenv("COMPANION_SMTP_PASSWORD", raising=False)
    try:
        yield kept
    finally:
        controller.stop()


def follow_ups(sender: str) -> list[tuple[int, str, bool]]:
    """The patient's queued reminders: (day mark, channel, sent)."""
    with db.session_scope(write=False) as session:
        rows = session.scalars(
            select(SessionFollowUp)
            .join(Patient, Patient.id == SessionFollowUp.patient_id)
            .where(Patient.sender_id == sender)
            .order_by(SessionFollowUp.id)
        )
        return [(row.mark, row.channel, row.sent_at is not None) for row in rows]


def subscription_state(subscription_id: int) -> tuple[bool, str | None]:
    """(stopped, how) of one opt-in, as stored."""
    with db.session_scope(write=False) as session:
        row = session.get(ReminderSubscription, subscription_id)
        assert row is not None
        return row.stopped_at is not None, row.stopped_via


def test_the_reminders_unsubscribe_link_asks_then_stops(
    stack: Stack, desktop: tuple[Page, PageWatch], inbox: Inbox
) -> None:
    page, _watch = desktop
    console_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    page.on("console", on_console)

    # Quiet hours around the real clock keep the stack's own notifier away; the test's
    # passes run twelve hours later in the day, outside them.
    real = datetime.now(UTC).replace(second=0, microsecond=0)
    quiet_hours = f"{real - timedelta(hours=2):%H:%M}-{real + timedelta(hours=2):%H:%M}"
    registry.create(
        SLUG,
        NAME,
        origins=["https://kestrel-bay.example"],
        patient_url=CHAT_URL,
        timezone="UTC",
        quiet_hours=quiet_hours,
    )
    sender = patients.invite(SLUG).sender_id
    journal.save_entry(sender, "checkin", fields={"note": SENTENCE}, mood=3)
    now = real + timedelta(hours=12)
    zone = session_calendar.zone_of("UTC")
    assert reminders.quiet(real, zone, quiet_hours)
    assert not reminders.quiet(now, zone, quiet_hours)
    # A session the day before ``now``: day mark 1 is open.
    day = (now - timedelta(days=1)).date()
    assert session_calendar.record_session(sender, day, by="dr.wren", source="staff")
    subscription = reminders.subscribe(sender, ADDRESS)
    assert subscription is not None

    report = reminders.send_due(now=now)
    assert len(report.sent) == 1 and report.failed == {}, report
    assert follow_ups(sender) == [(1, "email", True)]
    assert len(inbox.messages) == 1 and inbox.messages[0].rcpt_tos == [ADDRESS]

    mail = inbox.parsed()
    body = mail.get_content()
    whole = mail.as_string()
    assert NAME in mail["From"] and NAME in mail["Subject"] and NAME in body
    assert CHAT_URL in body
    assert not any(word.lower() in whole.lower() for word in TELLTALES), whole
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(.+)>", mail["List-Unsubscribe"])
    assert link is not None
    url = link[1]
    assert url in body
    assert url.startswith(f"{stack.web_url}/reminders/unsubscribe/")

    # Opening the link only asks.
    response = page.goto(url)
    assert response is not None and response.status == 200
    assert "no-store" in response.headers["cache-control"]
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Stop the check-in reminders from {NAME}?"
    )
    button = page.get_by_role("button", name="Stop reminders")
    expect(button).to_be_visible()
    assert reminders.active_subscription(sender) is not None
    assert subscription_state(subscription.id) == (False, None)

    # The button stops them.
    button.click()
    status = page.get_by_role("status")
    expect(status).to_contain_text(f"Done: you will get no more reminders from {NAME}.")
    expect(page.get_by_role("button")).to_have_count(0)
    assert page.url == url
    assert reminders.active_subscription(sender) is None
    assert subscription_state(subscription.id) == (True, "link")

    # The link opened again says so, and asks nothing.
    page.goto(url)
    expect(page.get_by_role("status")).to_contain_text("no more reminders")
    expect(page.get_by_role("button")).to_have_count(0)

    # Day 3 of the same session: nothing is queued or sent for this patient.
    later = reminders.send_due(now=now + timedelta(days=2))
    assert later.sent == [] and later.failed == {}
    assert follow_ups(sender) == [(1, "email", True)]
    assert len(inbox.messages) == 1
    assert console_errors == []
