"""Risk-flag levels (urgent, elevated, info) from the database up: migration 0005, storing a
flag's level, notices only for the levels a clinic is notified of, the dashboard's views and
exports, and the flags an erasure keeps until the care team has been told of them - on real
SQLite files and PostgreSQL databases, with notices POSTed to a real HTTP receiver."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from action_support import load_domain
from alembic import command
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from bot import encryption, records
from bot.clinics import notify, patients, registry
from bot.journal import entries as journal
from bot.journal.schema import FIELD_KEYS
from bot.privacy import erasure
from bot.records import exports
from bot.storage import db
from bot.storage.models import AuditEvent, Clinic, Patient, RiskFlag, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SAFETY_PLAN_KEYS = FIELD_KEYS["safety_plan"]


# ----------------------------------------------------------------------------- helpers


class Receiver:
    """A clinic's webhook endpoint on loopback: keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def levels(self) -> dict[int, str]:
        with self.lock:
            return {body["flag_id"]: body["level"] for body in self.bodies}


@pytest.fixture
def receiver(clinic_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("COMPANION_WEBHOOK_SECRET", "levels-test-secret-0123456789abcdef01234567")
    endpoint = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with endpoint.lock:
                endpoint.bodies.append(json.loads(body))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_port}/hooks/risk"
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def new_clinic(slug: str = "north", **options: Any) -> registry.ClinicView:
    return registry.create(slug, slug.title(), origins=[f"https://{slug}.example"], **options)


def new_patient(clinic: str = "north") -> str:
    return patients.invite(clinic).sender_id


def flag(sender_id: str, level: str, message: str = "the words", category: str = "suicide") -> int:
    return journal.record_risk_flag(
        sender_id, message=message, category=category, source="detector", level=level
    )


def row(flag_id: int) -> RiskFlag | None:
    with db.session_scope(write=False) as session:
        found = session.get(RiskFlag, flag_id)
        if found is not None:
            session.expunge(found)
        return found


def set_flag(flag_id: int, **values: Any) -> None:
    with db.session_scope() as session:
        session.execute(update(RiskFlag).where(RiskFlag.id == flag_id).values(**values))


def ref(sender_id: str) -> records.PatientRef:
    with db.session_scope(write=False) as session:
        clinic_id = session.scalar(select(Patient.clinic_id).where(Patient.sender_id == sender_id))
    found = records.find_patient(clinic_id, sender_id)
    assert found is not None
    return found


# ----------------------------------------------------------------------------- A: storage


_clinics = sa.table(
    "clinics",
    sa.column("id", sa.Integer()),
    sa.column("slug", sa.String()),
    sa.column("name", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("origins", sa.JSON()),
    sa.column("crisis_lines", sa.JSON()),
    sa.column("accent_color", sa.String()),
    sa.column("allow_anonymous", sa.Boolean()),
    sa.column("notify_emails", sa.JSON()),
    sa.column("erasure_review", sa.Boolean()),
)
_patients = sa.table(
    "patients",
    sa.column("id", sa.Integer()),
    sa.column("clinic_id", sa.Integer()),
    sa.column("sender_id", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
)
_flags = sa.table(
    "risk_flags",
    sa.column("patient_id", sa.Integer()),
    sa.column("category", sa.String()),
    sa.column("source", sa.String()),
    sa.column("message", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("notify_attempts", sa.Integer()),
)
_OLD_DEFAULT_LINES = [
    {"name": "Suicide & Crisis Lifeline (call or text)", "number": "988"},
    {"name": "Emergency services", "number": "911"},
]


def test_migration_0005_makes_old_flags_urgent_and_gives_clinics_the_crisis_settings(
    database_url: str,
) -> None:
    db.upgrade(revision="0004")
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    own_lines = [{"name": "Samaritans", "number": "116 123"}]
    with db.get_engine().begin() as connection:
        for slug, lines in (("old", _OLD_DEFAULT_LINES), ("own", own_lines), ("none", [])):
            connection.execute(
                _clinics.insert().values(
                    slug=slug,
                    name=slug,
                    created_at=moment,
                    origins=[],
                    crisis_lines=lines,
                    accent_color="#2f6f73",
                    allow_anonymous=False,
                    notify_emails=[],
                    erasure_review=False,
                )
            )
        clinic_id = connection.execute(text("SELECT id FROM clinics WHERE slug = 'old'")).scalar()
        patient_id = connection.execute(
            _patients.insert()
            .values(
                clinic_id=clinic_id, sender_id="p-before", created_at=moment, last_seen_at=moment
            )
            .returning(_patients.c.id)
        ).scalar_one()
        connection.execute(
            _flags.insert().values(
                patient_id=patient_id,
                category="suicide",
                source="lexicon",
                message="help",
                created_at=moment,
                notify_attempts=0,
            )
        )

    db.upgrade()

    with db.session_scope(write=False) as session:
        [(level, erased_at)] = session.execute(select(RiskFlag.level, RiskFlag.erased_at)).all()
    assert (level, erased_at) == ("urgent", None)
    old, own, none = (registry.get_clinic(slug) for slug in ("old", "own", "none"))
    # The migration's own copy of the new default lines is the defaults file's.
    assert old.crisis_lines == none.crisis_lines == registry.defaults()["crisis_lines"]
    assert own.crisis_lines == own_lines  # chosen by the clinic: untouched
    for view in (old, own, none):
        assert (view.emergency_number, view.response_time) == ("911", "within one working day")
        # 0006 adds requests (a patient's message for the care team) to the default levels.
        levels = ["urgent", "elevated", "request"]
        assert (view.notify_levels, view.peer_support_line) == (levels, False)

    # journal_entries.kind takes a safety plan now, and still nothing unknown.
    plan = journal.save_entry("p-before", "safety_plan", fields={"warning_signs": "not sleeping"})
    assert plan.kind == "safety_plan"
    with pytest.raises(IntegrityError), db.get_engine().begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journal_entries (patient_id, number, kind, status, fields, created_at)"
                " SELECT id, 99, 'diary', 'complete', '{}', created_at FROM patients"
            )
        )
    with pytest.raises(IntegrityError), db.get_engine().begin() as connection:
        connection.execute(text("UPDATE risk_flags SET level = 'severe'"))

    # Going back refuses to lose the safety plan 0004 could not hold.
    with pytest.raises(RuntimeError, match="safety plans are stored"):
        command.downgrade(db.alembic_config(), "0004")
    assert db.current_revision() == db.head_revision()
    assert [entry.kind for entry in journal.recent_entries("p-before")] == ["safety_plan"]


def test_a_flag_keeps_its_level_and_an_unknown_level_is_refused(clinic_db: str) -> None:
    new_clinic()
    sender_id = new_patient()

    ids = {
        level: flag(sender_id, level, category=level) for level in ("urgent", "elevated", "info")
    }
    default = journal.record_risk_flag(sender_id, message="m", category=None, source="detector")

    assert {level: row(flag_id).level for level, flag_id in ids.items()} == {
        "urgent": "urgent",
        "elevated": "elevated",
        "info": "info",
    }
    assert row(default).level == "urgent"
    with pytest.raises(ValueError, match="unknown risk level"):
        flag(sender_id, "severe")
    exported = journal.export_patient(sender_id)
    assert [f["level"] for f in exported["risk_flags"]] == ["urgent", "elevated", "info", "urgent"]


def test_a_safety_plan_is_a_journal_kind_with_its_own_fields(clinic_db: str) -> None:
    new_clinic()
    sender_id = new_patient()
    answers = {key: f"my {key.replace('_', ' ')}" for key in reversed(SAFETY_PLAN_KEYS)}

    entry = journal.save_entry(sender_id, "safety_plan", fields=answers)

    # The plan's own order is the order the chat asks its steps in.
    asked = load_domain()["forms"]["safety_plan_form"]["required_slots"]
    assert SAFETY_PLAN_KEYS == tuple(slot.removeprefix("plan_") for slot in asked)
    assert records.FORMATS.kind_label("safety_plan") == "Safety plans"
    [shown] = records.load_record(ref(sender_id)).entries
    assert shown.title == "Safety plan"
    # Shown and exported in the plan's own order, whatever order they were stored in.
    assert [field.key for field in shown.fields] == list(SAFETY_PLAN_KEYS)
    header = exports.csv_bytes(journal.export_patient(sender_id)).decode("utf-8-sig")
    assert header.splitlines()[0].endswith(",".join(SAFETY_PLAN_KEYS))
    assert entry.number == 1


# ----------------------------------------------------------------------------- C: notices


def test_only_the_levels_a_clinic_is_notified_of_are_announced(receiver: Receiver) -> None:
    new_clinic(webhook_url=receiver.url)
    urgent = flag(new_patient(), "urgent")
    elevated = flag(new_patient(), "elevated")
    info = flag(new_patient(), "info")

    report = notify.send_pending()

    assert sorted(report.sent) == sorted([urgent, elevated]) and report.ok
    assert report.not_notified == [info]
    assert receiver.levels() == {urgent: "urgent", elevated: "elevated"}
    skipped = row(info)
    assert skipped.notified_at is None
    assert skipped.notify_attempts == notify.NOT_NOTIFIED
    assert "not notified" in skipped.notify_error and "info" in skipped.notify_error
    assert "Not announced" in report.summary()

    # The outbox never reads it again: it is in no list of the next pass.
    again = notify.send_pending()
    assert info not in again.sent + again.waiting + again.unconfigured + again.not_notified
    assert again.sent == [] and again.not_notified == []

    # A clinic that chooses info flags gets the new ones; the one passed over stays so.
    registry.update("north", notify_levels=["urgent", "elevated", "info"])
    later = flag(new_patient(), "info")
    assert notify.send_pending().sent == [later]
    assert receiver.levels()[later] == "info"
    assert row(info).notified_at is None


def test_urgent_flags_are_announced_whatever_the_stored_levels_say(
    receiver: Receiver, database_backend: str
) -> None:
    new_clinic(webhook_url=receiver.url)
    # Written past the application's checks (which always keep "urgent").
    with db.get_engine().begin() as connection:
        connection.execute(update(Clinic).values(notify_levels=["info"]))
    urgent = flag(new_patient(), "urgent")
    elevated = flag(new_patient(), "elevated")

    report = notify.send_pending()

    assert report.sent == [urgent] and report.not_notified == [elevated]


def test_the_notice_says_the_level() -> None:
    notice = notify.Notice(
        flag_id=7,
        clinic_slug="north",
        clinic_name="North clinic",
        sender_id="p-1",
        category="overdose",
        source="detector",
        created_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        emails=("care@north.example",),
        webhook_url=None,
        level="elevated",
    )

    message = notify.email_message(notice)
    body = message.get_content()

    assert message["Subject"] == "Elevated risk flag 7 at North clinic"
    assert "Level: elevated" in body and "(an elevated risk flag)" in body
    assert json.loads(notify.webhook_body(notice))["level"] == "elevated"
    # A level the notifier does not know is never played down.
    odd = notify.email_message(
        notify.Notice(**{**notice.__dict__, "level": "whatever\r\nBcc: x@evil.example"})
    )
    assert odd["Subject"].startswith("Urgent risk flag 7") and odd["Bcc"] is None


# ----------------------------------------------------------------------------- D: dashboard


def test_the_patients_list_puts_the_most_urgent_first_and_filters_by_level(
    clinic_db: str,
) -> None:
    clinic = new_clinic()
    info_only, urgent_one, elevated_one, calm = (new_patient() for _ in range(4))
    flag(urgent_one, "urgent")
    flag(elevated_one, "elevated")
    acknowledged = flag(elevated_one, "urgent")
    set_flag(acknowledged, acknowledged_at=utcnow(), acknowledged_by="dr@north.example")
    flag(info_only, "info", category="craving")  # the latest activity of all: still after
    flag(info_only, "info", category="bladder")  # the more urgent ones

    listed = records.list_patients(clinic_id_of(clinic.slug))

    assert [s.sender_id for s in listed][:3] == [urgent_one, elevated_one, info_only]
    by_id = {s.sender_id: s for s in listed}
    assert by_id[elevated_one].open_levels == (("elevated", 1),)
    assert by_id[info_only].open_levels == (("info", 2),)
    assert by_id[calm].open_levels == () and by_id[calm].highest_open_level is None
    assert [s.sender_id for s in records.list_patients(clinic_id_of("north"), level="info")] == [
        info_only
    ]
    assert records.list_patients(clinic_id_of("north"), level="elevated") == [by_id[elevated_one]]


def clinic_id_of(slug: str) -> int:
    with db.session_scope(write=False) as session:
        return session.scalar(select(Clinic.id).where(Clinic.slug == slug))


def test_the_patient_page_filters_flags_by_level_and_says_what_it_hides(clinic_db: str) -> None:
    new_clinic()
    sender_id = new_patient()
    urgent = flag(sender_id, "urgent")
    elevated = flag(sender_id, "elevated", category="recent")
    info = flag(sender_id, "info", category="craving")
    seen = flag(sender_id, "elevated", category="bladder")
    set_flag(seen, acknowledged_at=utcnow(), acknowledged_by="dr@north.example")

    everything = records.load_record(ref(sender_id))
    assert [(f.id, f.level, f.level_label) for f in everything.open_flags] == [
        (info, "info", "Info"),
        (elevated, "elevated", "Elevated"),
        (urgent, "urgent", "Urgent"),
    ]
    assert everything.hidden_open_flags == 0

    filters = records.Filters.parse(levels=["elevated"])
    only = records.load_record(ref(sender_id), filters)
    assert [f.id for f in only.open_flags] == [elevated]
    assert [f.id for f in only.acknowledged_flags] == [seen]
    assert only.hidden_open_flags == 2
    assert filters.active and filters.audit_detail() == {"levels": ["elevated"]}

    odd = records.Filters.parse(levels=["severe", ""])
    assert odd.levels == frozenset() and odd.problems
    assert (
        records.Filters.parse(levels=["urgent", "elevated", "info", "request"]).levels
        == frozenset()
    )


def test_the_exports_carry_the_level(clinic_db: str) -> None:
    new_clinic()
    sender_id = new_patient()
    flag(sender_id, "elevated", category="recent")
    flag(sender_id, "urgent")

    exported = json.loads(exports.json_bytes(records.export_data(ref(sender_id))))
    html = exports.report_html(
        records.load_record(ref(sender_id)), exported_by="dr@north.example", exported_at=utcnow()
    )

    assert [f["level"] for f in exported["risk_flags"]] == ["elevated", "urgent"]
    assert "ELEVATED · OPEN · Recent" in html and "URGENT · OPEN · Suicide" in html
    assert "1 urgent, 1 elevated, 0 info" in html


# ----------------------------------------------------------------------------- E: erasure


def test_an_erasure_keeps_a_flag_its_care_team_has_not_been_told_of(receiver: Receiver) -> None:
    new_clinic(webhook_url=receiver.url)
    sender_id = new_patient()
    bystander = flag(new_patient(), "urgent", message="someone else's words")
    pending = flag(sender_id, "urgent", message="I have the pills ready", category="suicide")
    notified = flag(sender_id, "elevated", category="recent")
    set_flag(notified, notified_at=utcnow(), notify_attempts=1)
    acknowledged = flag(sender_id, "urgent", category="overdose")
    set_flag(acknowledged, acknowledged_at=utcnow(), acknowledged_by="dr@north.example")
    info = flag(sender_id, "info", category="craving")  # its level is not announced
    before = row(pending)

    receipt = erasure.erase_patient(sender_id, "admin@north.example")

    assert receipt.stores["risk_flags"] == {"erased": 3, "kept_until_notified": 1}
    assert receipt.ok and receipt.kept_until_notified == 1
    assert [row(i) for i in (notified, acknowledged, info)] == [None, None, None]
    kept = row(pending)
    assert (kept.level, kept.category, kept.source, kept.created_at) == (
        "urgent",
        "suicide",
        "detector",
        before.created_at,
    )
    assert kept.message == "" and kept.erased_at == receipt.at
    with db.get_engine().connect() as connection:
        stored = connection.execute(
            text("SELECT message FROM risk_flags WHERE id = :id"), {"id": pending}
        ).scalar_one()
    assert encryption.open_value(stored) == ""
    [audited] = _audit_rows("erase_patient")
    assert audited.detail["stores"]["risk_flags"] == {"erased": 3, "kept_until_notified": 1}
    assert row(bystander).message == "someone else's words"

    # The notice still goes out, says the patient erased their data, and then the row goes.
    report = notify.send_pending()

    assert sorted(report.sent) == sorted([pending, bystander])
    assert report.deleted == [pending]
    assert row(pending) is None and row(bystander) is not None
    [body] = [b for b in receiver.bodies if b["flag_id"] == pending]
    assert (body["level"], body["category"], body["erased"]) == ("urgent", "suicide", True)
    assert "pills" not in json.dumps(receiver.bodies)


def _audit_rows(action: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_kept_flag_is_shown_as_erased_and_goes_when_acknowledged(clinic_db: str) -> None:
    new_clinic()  # no notices at all: the dashboard is where the care team learns of it
    sender_id = new_patient()
    kept = flag(sender_id, "urgent", message="tonight is the night")

    assert erasure.erase_patient(sender_id, "patient").kept_until_notified == 1

    [shown] = records.load_record(ref(sender_id)).open_flags
    assert (shown.id, shown.level, shown.message) == (kept, "urgent", "")
    assert shown.erased_at is not None and shown.message_anchor is None
    html = exports.report_html(
        records.load_record(ref(sender_id)), exported_by="dr@north.example", exported_at=utcnow()
    )
    assert "erased their data" in html

    acknowledged = records.acknowledge_flag(ref(sender_id), kept, by="dr@north.example")

    assert acknowledged is not None and acknowledged.acknowledged_by == "dr@north.example"
    assert row(kept) is None
    assert records.load_record(ref(sender_id)).flags == ()


def test_the_notifier_deletes_a_kept_flag_acknowledged_behind_its_back(clinic_db: str) -> None:
    new_clinic()
    sender_id = new_patient()
    kept = flag(sender_id, "elevated")
    erasure.erase_patient(sender_id, "patient")
    set_flag(kept, acknowledged_at=utcnow(), acknowledged_by="dr@north.example")
    ordinary = flag(new_patient(), "urgent")
    set_flag(ordinary, acknowledged_at=utcnow(), acknowledged_by="dr@north.example")

    report = notify.send_pending()

    assert report.deleted == [kept]
    assert row(kept) is None and row(ordinary) is not None
    assert "Deleted after the care team knew of them" in report.summary()


def test_the_risk_flags_csv_has_one_row_per_flag_with_its_level(clinic_db: str) -> None:
    new_clinic()
    sender_id = new_patient()
    urgent = flag(sender_id, "urgent", message='=HYPERLINK("http://x")')
    info = flag(sender_id, "info", message="craving 9 of 10", category="craving_high")

    body = exports.flags_csv_bytes(journal.export_patient(sender_id))

    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    by_id = {int(found["id"]): found for found in rows}
    assert set(by_id) == {urgent, info}
    assert (by_id[urgent]["level"], by_id[urgent]["category"]) == ("urgent", "suicide")
    assert by_id[urgent]["message"] == '\'=HYPERLINK("http://x")'  # a formula, defused
    assert (by_id[info]["level"], by_id[info]["message"]) == ("info", "craving 9 of 10")
    assert by_id[info]["acknowledged_at"] == ""
