"""Risk-flag notifications against a real SMTP server (aiosmtpd) and a real HTTP receiver,
on SQLite files and PostgreSQL databases.

Flags are raised the way the action server raises them (:func:`bot.journal.entries.record_risk_flag`
for a patient invited to a clinic); the notifier then talks to servers listening on
loopback in this process. Every notice is checked for the one thing it must never carry:
what the patient wrote.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from servers import serving, web_app_service
from sqlalchemy import select, update

from bot import settings
from bot.cli.main import build_parser
from bot.cli.notify import register_notify
from bot.clinics import notify, patients, registry
from bot.journal import entries as journal
from bot.runner import STOP_GRACE_SECONDS, Service, free_port, stop_all, wait_until_ready
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import RiskFlag, utcnow

WEBHOOK_SECRET = "webhook-test-secret-0123456789abcdef0123456789"
SENDER = "Companion <noreply@companion.example>"
#: The web app's public address that the `clinic_db` fixture sets.
TEST_PUBLIC_WEB_URL = "https://companion.example"
#: What a patient wrote. No part of it may appear in any notice.
SENTENCE = "The violet heron sang about Lake Winnipesaukee at three in the morning."
TELLTALES = ("heron", "Winnipesaukee", "violet")
pytestmark = pytest.mark.databases("sqlite", "postgresql")

SMTP_VARIABLES = (
    "COMPANION_SMTP_HOST",
    "COMPANION_SMTP_PORT",
    "COMPANION_SMTP_USER",
    "COMPANION_SMTP_PASSWORD",
    "COMPANION_SMTP_STARTTLS",
)


@pytest.fixture
def notify_db(clinic_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A migrated database, a known webhook secret and no SMTP server until a test adds one."""
    monkeypatch.setenv("COMPANION_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("COMPANION_SMTP_FROM", SENDER)
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")
    for name in SMTP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return clinic_db


# ----------------------------------------------------------------------------- SMTP server


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts and answers as a test tells it to."""

    messages: list[Envelope] = field(default_factory=list)
    data_attempts: int = 0
    data_reply: str | None = None
    refuse: set[str] = field(default_factory=set)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    password: bytes = b"correct horse battery staple"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.data_attempts += 1
        if self.data_reply:
            return self.data_reply
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        accepted = data.login == b"notifier" and data.password == self.password
        # handled=False: aiosmtpd itself answers 535 to a refusal.
        return AuthResult(success=accepted, handled=False)

    def parsed(self, index: int = -1) -> Message:
        return email.message_from_bytes(
            self.messages[index].original_content, policy=email.policy.default
        )


@contextmanager
def smtp_server(
    monkeypatch: pytest.MonkeyPatch, *, starttls: bool = False, **smtp_options: Any
) -> Iterator[Inbox]:
    """A real SMTP server on loopback, with the notifier's settings pointing at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **smtp_options)
    controller.start()
    monkeypatch.setenv("COMPANION_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COMPANION_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("COMPANION_SMTP_STARTTLS", "1" if starttls else "0")
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def inbox(notify_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_server(monkeypatch) as server:
        yield server


# ----------------------------------------------------------------------------- HTTP receiver


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes
    at: float


@dataclass
class Receiver:
    """A clinic's webhook endpoint: records each POST and answers with the next status."""

    url: str = ""
    status: int = 204
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def flag_ids(self) -> list[int]:
        with self.lock:
            return [json.loads(r.body)["flag_id"] for r in self.requests if r.path == "/hooks/risk"]


@contextmanager
def http_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.lock:
                receiver.requests.append(Received(self.path, self.headers, body, time.time()))
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
            time.sleep(receiver.delay)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"http://127.0.0.1:{port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{port}/hooks/risk"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def receiver(notify_db: str) -> Iterator[Receiver]:
    with http_receiver() as endpoint:
        yield endpoint


# ----------------------------------------------------------------------------- helpers


def make_clinic(slug: str = "north", **options: Any) -> registry.ClinicView:
    return registry.create(
        slug, f"{slug.title()} clinic", origins=[f"https://{slug}.example"], **options
    )


def raise_flag(
    clinic: str = "north", message: str = SENTENCE, category: str | None = "suicide"
) -> tuple[str, int]:
    """A new patient of the clinic and a risk flag, exactly as the action server stores it."""
    sender_id = patients.invite(clinic).sender_id
    flag_id = journal.record_risk_flag(
        sender_id, message=message, category=category, source="lexicon"
    )
    return sender_id, flag_id


def flag(flag_id: int) -> dict[str, Any]:
    with db.session_scope(write=False) as session:
        row = session.get(RiskFlag, flag_id)
        assert row is not None
        return {
            "notified_at": row.notified_at,
            "notify_attempts": row.notify_attempts,
            "notify_error": row.notify_error,
            "created_at": row.created_at,
        }


def expected_signature(slug: str, timestamp: str, body: bytes) -> str:
    """The receiver's side, written out independently of :mod:`bot.clinics.notify`."""
    key = hmac.new(WEBHOOK_SECRET.encode(), b"companion-webhook:" + slug.encode(), hashlib.sha256)
    mac = hmac.new(key.hexdigest().encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def assert_no_patient_text(data: bytes | str) -> None:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    assert SENTENCE not in text
    for word in TELLTALES:
        assert word.lower() not in text.lower()


def run_notify_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``notify`` through the real parser and handler, in this process."""
    parsed = build_parser([register_notify]).parse_args(["notify", *args])
    code = parsed.handler(parsed)
    return code, capsys.readouterr().out


# ----------------------------------------------------------------------------- e-mail


def test_a_new_flag_is_emailed_without_what_the_patient_wrote(inbox: Inbox) -> None:
    make_clinic(notify_emails=["care@north.example", "On-Call@North.Example"])
    sender_id, flag_id = raise_flag()
    before = utcnow()

    report = notify.send_pending()

    assert report.sent == [flag_id] and report.ok
    assert len(inbox.messages) == 1
    envelope = inbox.messages[0]
    assert envelope.mail_from == "noreply@companion.example"
    assert envelope.rcpt_tos == ["care@north.example", "On-Call@north.example"]
    assert_no_patient_text(envelope.original_content)
    message = inbox.parsed()
    assert message["Subject"] == f"Urgent risk flag {flag_id} at North clinic"
    assert message["From"] == SENDER
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == f"<risk-flag-{flag_id}.north@companion.example>"
    body = message.get_content().replace("\r\n", "\n")
    assert f"Flag: {flag_id}" in body
    assert "Level: urgent" in body
    assert "Category: suicide" in body
    assert f"{TEST_PUBLIC_WEB_URL}/therapist/patients/{sender_id}\n" in body
    assert "North clinic" in body
    stored = flag(flag_id)
    assert stored["notified_at"] is not None and stored["notified_at"] >= before
    assert stored["notify_attempts"] == 1
    assert stored["notify_error"] is None

    assert notify.send_pending().sent == []
    assert len(inbox.messages) == 1


def test_a_clinic_name_cannot_break_the_headers(inbox: Inbox) -> None:
    make_clinic(notify_emails=["care@north.example"])
    registry.update("north", name="North\r\nBcc: attacker@evil.example")
    _, flag_id = raise_flag()

    assert notify.send_pending().sent == [flag_id]

    message = inbox.parsed()
    assert message["Bcc"] is None
    assert inbox.messages[0].rcpt_tos == ["care@north.example"]
    assert "\n" not in message["Subject"]


def test_a_category_that_is_not_a_label_is_withheld(inbox: Inbox, receiver: Receiver) -> None:
    make_clinic(notify_emails=["care@north.example"], webhook_url=receiver.url)
    _, flag_id = raise_flag(category=SENTENCE)

    assert notify.send_pending().sent == [flag_id]

    assert_no_patient_text(inbox.messages[0].original_content)
    assert "Category: not given" in inbox.parsed().get_content()
    assert json.loads(receiver.requests[0].body)["category"] is None


def test_a_failing_smtp_server_is_retried_with_growing_pauses(inbox: Inbox) -> None:
    make_clinic(notify_emails=["care@north.example"])
    _, flag_id = raise_flag()
    inbox.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    start = utcnow()

    first = notify.send_pending(now=start)

    assert first.sent == [] and not first.ok
    assert "451" in first.failed[flag_id] and "e-mail" in first.failed[flag_id]
    stored = flag(flag_id)
    assert stored["notified_at"] is None
    assert stored["notify_attempts"] == 1
    assert "failed (attempt 1)" in stored["notify_error"]
    assert "451 4.3.0 Mail server temporarily rejected message" in stored["notify_error"]

    # Two seconds after the first failure, four after the second, and so on.
    assert notify.send_pending(now=start + timedelta(seconds=1.9)).waiting == [flag_id]
    assert inbox.data_attempts == 1
    second = notify.send_pending(now=start + timedelta(seconds=2))
    assert flag_id in second.failed and inbox.data_attempts == 2
    assert flag(flag_id)["notify_attempts"] == 2
    waiting = notify.send_pending(now=start + timedelta(seconds=5.9))
    assert waiting.waiting == [flag_id] and inbox.data_attempts == 2

    inbox.data_reply = None
    third = notify.send_pending(now=start + timedelta(seconds=6))

    assert third.sent == [flag_id] and inbox.data_attempts == 3
    stored = flag(flag_id)
    assert stored["notified_at"] == start + timedelta(seconds=6)
    assert stored["notify_attempts"] == 3
    assert stored["notify_error"] is None
    assert len(inbox.messages) == 1


def test_no_smtp_server_listening_is_recorded(notify_db: str, monkeypatch) -> None:
    monkeypatch.setenv("COMPANION_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COMPANION_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("COMPANION_SMTP_STARTTLS", "0")
    make_clinic(notify_emails=["care@north.example"])
    _, flag_id = raise_flag()

    report = notify.send_pending()

    assert "ConnectionRefusedError" in report.failed[flag_id]
    assert "ConnectionRefusedError" in flag(flag_id)["notify_error"]
    assert flag(flag_id)["notified_at"] is None


def test_without_an_smtp_host_the_flag_waits_and_says_why(notify_db: str) -> None:
    make_clinic(notify_emails=["care@north.example"])
    _, flag_id = raise_flag()

    report = notify.send_pending()

    assert "COMPANION_SMTP_HOST" in report.failed[flag_id]
    assert flag(flag_id)["notify_attempts"] == 1


def test_one_refused_address_does_not_hold_back_the_others(inbox: Inbox) -> None:
    make_clinic(notify_emails=["care@north.example", "typo@north.example"])
    inbox.refuse = {"typo@north.example"}
    _, flag_id = raise_flag()

    report = notify.send_pending()

    assert report.sent == [flag_id]
    assert inbox.messages[0].rcpt_tos == ["care@north.example"]
    stored = flag(flag_id)
    assert stored["notified_at"] is not None
    assert "typo@north.example" in stored["notify_error"] and "550" in stored["notify_error"]


def test_every_address_refused_is_a_failure(inbox: Inbox) -> None:
    make_clinic(notify_emails=["typo@north.example"])
    inbox.refuse = {"typo@north.example"}
    _, flag_id = raise_flag()

    report = notify.send_pending()

    assert "every address was refused" in report.failed[flag_id]
    assert flag(flag_id)["notified_at"] is None


def test_starttls_is_required_unless_switched_off(notify_db: str, monkeypatch) -> None:
    make_clinic(notify_emails=["care@north.example"])
    _, flag_id = raise_flag()
    with smtp_server(monkeypatch, starttls=True) as plain_server:
        report = notify.send_pending()

    assert "does not offer STARTTLS" in report.failed[flag_id]
    assert plain_server.data_attempts == 0


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (Debian's openssl command)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _tls_server_options(cert: Path, key: Path, inbox_auth: Any) -> dict[str, Any]:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return {
        "tls_context": context,
        "require_starttls": True,
        "authenticator": inbox_auth,
        "auth_require_tls": True,
    }


def _send_over_starttls(
    monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path], password: str
) -> tuple[notify.NotifyReport, Inbox, Inbox, int]:
    """Send one new flag to an SMTP server that requires STARTTLS and a login as "notifier".

    Returns the report, the server's inbox, the inbox that checked the login, and the flag.
    """
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setenv("COMPANION_SMTP_USER", "notifier")
    monkeypatch.setenv("COMPANION_SMTP_PASSWORD", password)
    make_clinic(notify_emails=["care@north.example"])
    _, flag_id = raise_flag()
    auth = Inbox()
    with smtp_server(
        monkeypatch, starttls=True, **_tls_server_options(cert, key, auth.authenticate)
    ) as server:
        report = notify.send_pending()
    return report, server, auth, flag_id


def test_starttls_with_a_verified_certificate_and_login(
    notify_db: str, monkeypatch, certificate: tuple[Path, Path]
) -> None:
    report, server, auth, flag_id = _send_over_starttls(
        monkeypatch, certificate, "correct horse battery staple"
    )

    assert report.sent == [flag_id], report.failed
    assert len(server.messages) == 1
    assert auth.logins == [(b"notifier", b"correct horse battery staple")]


def test_a_wrong_smtp_password_is_recorded(
    notify_db: str, monkeypatch, certificate: tuple[Path, Path]
) -> None:
    report, server, _, flag_id = _send_over_starttls(monkeypatch, certificate, "wrong")

    assert "535" in report.failed[flag_id]
    assert server.data_attempts == 0
    assert "wrong" not in flag(flag_id)["notify_error"]


def test_an_untrusted_certificate_stops_the_mail(
    notify_db: str, monkeypatch, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate  # valid, but signed by nobody this machine trusts
    make_clinic(notify_emails=["care@north.example"])
    _, flag_id = raise_flag()
    with smtp_server(
        monkeypatch, starttls=True, **_tls_server_options(cert, key, Inbox().authenticate)
    ) as server:
        report = notify.send_pending()

    assert "CERTIFICATE_VERIFY_FAILED" in report.failed[flag_id]
    assert server.data_attempts == 0


# ----------------------------------------------------------------------------- webhook


def test_the_webhook_is_signed_and_carries_no_patient_text(receiver: Receiver) -> None:
    make_clinic(webhook_url=receiver.url)
    sender_id, flag_id = raise_flag()

    report = notify.send_pending()

    assert report.sent == [flag_id]
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/risk"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Companion-Event"] == "risk_flag.created"
    timestamp = request.headers["X-Companion-Timestamp"]
    assert abs(int(timestamp) - request.at) < 60
    signature = request.headers["X-Companion-Signature"]
    assert hmac.compare_digest(signature, expected_signature("north", timestamp, request.body))
    assert_no_patient_text(request.body)
    assert_no_patient_text(str(request.headers))
    document = json.loads(request.body)
    created = flag(flag_id)["created_at"]
    assert document == {
        "event": "risk_flag.created",
        "flag_id": flag_id,
        "clinic": "north",
        "clinic_name": "North clinic",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "category": "suicide",
        "source": "lexicon",
        "level": "urgent",
        "erased": False,
        "message_count": 1,
        "url": f"{TEST_PUBLIC_WEB_URL}/therapist/patients/{sender_id}",
    }
    assert flag(flag_id)["notified_at"] is not None


def test_a_signature_from_another_clinic_does_not_verify(notify_db: str) -> None:
    body = b'{"flag_id":1}'
    north = notify.sign(notify.webhook_key("north"), "1700000000", body)
    south = notify.sign(notify.webhook_key("south"), "1700000000", body)

    assert north == expected_signature("north", "1700000000", body)
    assert south != north
    assert notify.sign(notify.webhook_key("north"), "1700000001", body) != north
    assert notify.sign(notify.webhook_key("north"), "1700000000", body + b" ") != north


def test_the_webhook_key_comes_from_var_secrets_without_the_variable(
    notify_db: str, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("COMPANION_WEBHOOK_SECRET")
    key = notify.webhook_key("north")

    secret_file = tmp_path / "var" / "secrets" / "webhook.key"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert settings.webhook_secret() == secret_file.read_text().strip().encode()
    assert notify.webhook_key("north") == key
    monkeypatch.setenv("COMPANION_WEBHOOK_SECRET", WEBHOOK_SECRET)
    assert notify.webhook_key("north") != key


@pytest.mark.parametrize("status", [500, 404, 302])
def test_a_webhook_that_does_not_answer_2xx_is_retried(receiver: Receiver, status: int) -> None:
    make_clinic(webhook_url=receiver.url)
    _, flag_id = raise_flag()
    receiver.statuses = [status]
    start = utcnow()

    report = notify.send_pending(now=start)

    assert f"HTTP {status}" in report.failed[flag_id]
    assert [r.path for r in receiver.requests] == ["/hooks/risk"]  # a redirect is not followed
    assert notify.send_pending(now=start + timedelta(seconds=2)).sent == [flag_id]
    assert receiver.flag_ids() == [flag_id, flag_id]
    assert flag(flag_id)["notify_attempts"] == 2


def test_an_unreachable_webhook_is_recorded(notify_db: str) -> None:
    make_clinic(webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    _, flag_id = raise_flag()

    report = notify.send_pending()

    assert "ConnectionError" in report.failed[flag_id]
    assert "webhook" in flag(flag_id)["notify_error"]


def test_with_both_channels_a_failure_of_one_retries_both(inbox: Inbox, receiver: Receiver) -> None:
    make_clinic(notify_emails=["care@north.example"], webhook_url=receiver.url)
    _, flag_id = raise_flag()
    receiver.statuses = [503]
    start = utcnow()

    first = notify.send_pending(now=start)

    assert "webhook: answered HTTP 503" in first.failed[flag_id]
    assert "e-mail" not in first.failed[flag_id]
    assert notify.send_pending(now=start + timedelta(seconds=2)).sent == [flag_id]
    # At least once: the e-mail went out twice, recognisably the same notice.
    assert len(inbox.messages) == 2
    assert inbox.parsed(0)["Message-ID"] == inbox.parsed(1)["Message-ID"]
    assert receiver.flag_ids() == [flag_id, flag_id]


# ----------------------------------------------------------------------------- the outbox


def test_a_clinic_without_channels_keeps_its_flags_until_it_has_one(receiver: Receiver) -> None:
    make_clinic()
    _, flag_id = raise_flag()

    report = notify.send_pending()

    assert report.unconfigured == [flag_id] and report.sent == []
    assert flag(flag_id) | {"created_at": None} == {
        "notified_at": None,
        "notify_attempts": 0,
        "notify_error": None,
        "created_at": None,
    }
    registry.update("north", webhook_url=receiver.url)
    assert notify.send_pending().sent == [flag_id]


def test_acknowledged_flags_are_not_announced(receiver: Receiver) -> None:
    make_clinic(webhook_url=receiver.url)
    _, seen = raise_flag()
    _, unseen = raise_flag()
    with db.session_scope() as session:
        session.execute(
            update(RiskFlag)
            .where(RiskFlag.id == seen)
            .values(acknowledged_at=utcnow(), acknowledged_by="therapist@north.example")
        )

    assert notify.send_pending().sent == [unseen]
    assert receiver.flag_ids() == [unseen]


def test_each_clinic_gets_only_its_own_flags(inbox: Inbox, receiver: Receiver) -> None:
    make_clinic("north", notify_emails=["care@north.example"])
    make_clinic("south", webhook_url=receiver.url)
    _, north_flag = raise_flag("north")
    _, south_flag = raise_flag("south")

    assert sorted(notify.send_pending().sent) == sorted([north_flag, south_flag])

    assert [m.rcpt_tos for m in inbox.messages] == [["care@north.example"]]
    assert f"Flag: {north_flag}" in inbox.parsed().get_content()
    assert receiver.flag_ids() == [south_flag]
    assert json.loads(receiver.requests[0].body)["clinic"] == "south"


def test_an_attempt_whose_process_died_is_taken_up_after_the_lease(receiver: Receiver) -> None:
    make_clinic(webhook_url=receiver.url)
    _, flag_id = raise_flag()
    died_at = utcnow()
    with db.session_scope() as session:  # what a claim leaves behind when its process dies
        session.execute(
            update(RiskFlag)
            .where(RiskFlag.id == flag_id)
            .values(
                notify_attempts=1,
                notify_error=died_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + " sending (attempt 1)",
            )
        )

    halfway = notify.send_pending(now=died_at + notify.CLAIM_LEASE / 2, ignore_backoff=True)
    assert halfway.waiting == [flag_id] and receiver.requests == []

    report = notify.send_pending(now=died_at + notify.CLAIM_LEASE)
    assert report.sent == [flag_id]
    assert flag(flag_id)["notify_attempts"] == 2


def test_the_pauses_grow_to_five_minutes() -> None:
    assert [notify.backoff(n).total_seconds() for n in range(1, 11)] == [
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        300,
        300,
    ]
    assert notify.backoff(10_000) == timedelta(minutes=5)


def test_a_pass_sends_at_most_its_limit(receiver: Receiver) -> None:
    make_clinic(webhook_url=receiver.url)
    ids = [raise_flag()[1] for _ in range(3)]

    first = notify.send_pending(limit=2)

    assert first.sent == ids[:2] and first.waiting == ids[2:]
    assert notify.send_pending(limit=2).sent == ids[2:]


TWO_PROCESSES = """
import sys
from bot.cli.main import build_parser
from bot.cli.notify import register_notify

args = build_parser([register_notify]).parse_args(["notify", "--once"])
sys.exit(args.handler(args))
"""


@pytest.mark.slow
def test_two_processes_announce_each_flag_once(
    receiver: Receiver, notify_db: str, tmp_path: Path
) -> None:
    make_clinic(webhook_url=receiver.url)
    ids = sorted(raise_flag()[1] for _ in range(8))
    receiver.delay = 0.2
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": notify_db,
        "COMPANION_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "COMPANION_PUBLIC_WEB_URL": TEST_PUBLIC_WEB_URL,
        "COMPANION_VAR_DIR": str(tmp_path / "var"),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_PROCESSES],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert sorted(receiver.flag_ids()) == ids
    for flag_id in ids:
        assert flag(flag_id)["notified_at"] is not None
        assert flag(flag_id)["notify_attempts"] == 1
    with db.session_scope(write=False) as session:
        assert session.scalars(select(RiskFlag).where(RiskFlag.notified_at.is_(None))).all() == []


# ----------------------------------------------------------------------------- the thread


def wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_notifier_thread_sends_new_flags_and_stops_promptly(receiver: Receiver) -> None:
    make_clinic(webhook_url=receiver.url)
    _, first = raise_flag()
    notifier = notify.NotifierThread(0.2)
    notifier.start()
    try:
        wait_for(lambda: receiver.flag_ids() == [first])
        _, second = raise_flag()
        wait_for(lambda: receiver.flag_ids() == [first, second])
    finally:
        started = time.monotonic()
        notifier.stop()
        stopped_in = time.monotonic() - started

    assert stopped_in < 1.0
    assert not notifier.is_alive()
    assert flag(second)["notified_at"] is not None


@pytest.mark.slow
def test_the_thread_waits_its_interval_and_stops_without_waiting_it_out(
    receiver: Receiver,
) -> None:
    make_clinic(webhook_url=receiver.url)
    notifier = notify.NotifierThread(3600)
    notifier.start()
    time.sleep(0.5)  # the first pass has found nothing; the next is an hour away
    _, flag_id = raise_flag()
    time.sleep(0.5)
    started = time.monotonic()
    notifier.stop()

    assert time.monotonic() - started < 1.0
    assert receiver.requests == []
    assert flag(flag_id)["notified_at"] is None


def test_a_failing_pass_does_not_end_the_thread(
    notify_db: str, monkeypatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{blocker / 'companion.db'}")
    db.reset_engines()
    notifier = notify.NotifierThread(0.1)
    with caplog.at_level(logging.ERROR, logger="bot.clinics.notify"):
        notifier.start()
        wait_for(lambda: len([r for r in caplog.records if "outbox" in r.getMessage()]) >= 2)
        assert notifier.is_alive()
        notifier.stop()
    assert not notifier.is_alive()


def _web_app(database_url: str, tmp_path: Path, interval: str) -> Service:
    """The web app as ``make run`` starts it, pointed at this test's database."""
    port = free_port()
    service = web_app_service(port)
    service.env.update(
        {
            "DATABASE_URL": database_url,
            "COMPANION_NOTIFY_INTERVAL": interval,
            "COMPANION_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "COMPANION_PUBLIC_WEB_URL": f"http://127.0.0.1:{port}",
            "COMPANION_TOKEN_SECRET": "web-notify-test-secret-0123456789abcdef",
            "COMPANION_VAR_DIR": str(tmp_path / "var"),
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    return service


@pytest.mark.slow
def test_the_web_app_announces_new_flags(receiver: Receiver, notify_db: str, tmp_path) -> None:
    make_clinic(webhook_url=receiver.url)
    service = _web_app(notify_db, tmp_path, "0.2")
    service.start()
    try:
        wait_until_ready(service, timeout=90)
        _, flag_id = raise_flag()
        wait_for(lambda: receiver.flag_ids() == [flag_id])
        document = json.loads(receiver.requests[0].body)
        assert document["url"].startswith(service.env["COMPANION_PUBLIC_WEB_URL"])
        wait_for(lambda: flag(flag_id)["notified_at"] is not None)
    finally:
        started = time.monotonic()
        stop_all([service])
    assert time.monotonic() - started < STOP_GRACE_SECONDS
    assert service.exited() is not None


@pytest.mark.slow
def test_a_web_app_with_interval_0_sends_nothing(
    receiver: Receiver, notify_db: str, tmp_path
) -> None:
    make_clinic(webhook_url=receiver.url)
    _, flag_id = raise_flag()
    with serving(_web_app(notify_db, tmp_path, "0")):
        time.sleep(1.5)
    assert receiver.requests == []
    assert flag(flag_id)["notify_attempts"] == 0


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        notify.NotifierThread(0)


# ----------------------------------------------------------------------------- settings, CLI


def test_notification_settings_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    for name in (*SMTP_VARIABLES, "COMPANION_SMTP_FROM", "COMPANION_NOTIFY_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", "https://care.clinic.example:8443/")
    assert settings.smtp_host() is None
    assert settings.smtp_port() == 587
    assert settings.smtp_starttls() is True
    assert settings.smtp_user() is None
    assert settings.smtp_from() == "noreply@care.clinic.example"
    assert settings.notify_interval() == 10.0

    monkeypatch.setenv("COMPANION_SMTP_STARTTLS", "off")
    monkeypatch.setenv("COMPANION_SMTP_PORT", "2525")
    monkeypatch.setenv("COMPANION_NOTIFY_INTERVAL", "0")
    assert settings.smtp_starttls() is False
    assert settings.smtp_port() == 2525
    assert settings.notify_interval() == 0.0
    for name, value in [
        ("COMPANION_SMTP_PORT", "smtp"),
        ("COMPANION_SMTP_PORT", "70000"),
        ("COMPANION_NOTIFY_INTERVAL", "-1"),
        ("COMPANION_NOTIFY_INTERVAL", "soon"),
        ("COMPANION_NOTIFY_INTERVAL", "nan"),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(RuntimeError, match=name):
            settings.smtp_port() if name.endswith("PORT") else settings.notify_interval()
        monkeypatch.delenv(name)


def test_notify_once_prints_what_it_did(inbox: Inbox, capsys: pytest.CaptureFixture[str]) -> None:
    make_clinic(notify_emails=["care@north.example"])
    make_clinic("south")
    _, sent = raise_flag()
    _, unconfigured = raise_flag("south")

    code, out = run_notify_cli("--once", capsys=capsys)

    assert code == 0
    assert out.splitlines() == [
        f"Sent 1 notice (flag {sent}).",
        "Not sent, because their clinic has no notification e-mail or webhook: "
        f"flag {unconfigured}.",
    ]
    assert run_notify_cli("--once", capsys=capsys) == (
        0,
        "Sent nothing.\nNot sent, because their clinic has no notification e-mail or webhook: "
        f"flag {unconfigured}.\n",
    )


def test_notify_once_fails_with_the_reason_and_retry_now_skips_the_pause(
    inbox: Inbox, capsys: pytest.CaptureFixture[str]
) -> None:
    make_clinic(notify_emails=["care@north.example"])
    _, flag_id = raise_flag()
    inbox.data_reply = "452 4.3.1 Insufficient system storage"

    code, out = run_notify_cli("--once", capsys=capsys)
    assert code == 1
    assert f"Flag {flag_id} failed (will be retried): e-mail:" in out and "452" in out

    inbox.data_reply = None
    assert run_notify_cli("--once", capsys=capsys) == (
        0,
        f"Sent nothing.\nWaiting for their next attempt: flag {flag_id}.\n",
    )
    assert run_notify_cli("--once", "--retry-now", capsys=capsys) == (
        0,
        f"Sent 1 notice (flag {flag_id}).\n",
    )


def test_notify_webhook_key(notify_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    make_clinic()

    code, out = run_notify_cli("--webhook-key", "north", capsys=capsys)

    expected = hmac.new(WEBHOOK_SECRET.encode(), b"companion-webhook:north", hashlib.sha256)
    assert (code, out) == (0, expected.hexdigest() + "\n")
    parsed = build_parser([register_notify]).parse_args(["notify", "--webhook-key", "nowhere"])
    from bot.cli.common import CommandError

    with pytest.raises(CommandError, match="No clinic"):
        parsed.handler(parsed)


def test_notify_needs_once_or_webhook_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser([register_notify]).parse_args(["notify"])
    with pytest.raises(SystemExit):
        build_parser([register_notify]).parse_args(["notify", "--once", "--webhook-key", "x"])
