"""The patients list, the patient page, flag acknowledgement and the exports, over HTTP
against a real uvicorn process and a database filled by :mod:`dashboard_seed` (SQLite and
PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from html import unescape

import pypdf
import pytest
import requests
from dashboard_seed import (
    CRISIS_TEXT,
    FORMULA,
    MAIN_LABEL,
    NORTHSIDE_SECRET,
    OLD_CRISIS_TEXT,
    STEADY_LABEL,
    XSS_FLAG,
    XSS_IMG,
    XSS_LABEL,
    XSS_SCRIPT,
    XSS_TRANSCRIPT,
)
from servers import (
    DASHBOARD_CSP,
    Browser,
    SeededServer,
    attribute_names,
)
from sqlalchemy import create_engine, select

from bot.journal import entries as journal
from bot.storage import db
from bot.storage.models import AuditEvent, Patient, RiskFlag, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def page_path(sender_id: str) -> str:
    return f"/therapist/patients/{sender_id}"


def audit_rows(action: str, actor: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.actor == actor)
                .order_by(AuditEvent.id)
            )
        )


def text_of(response: requests.Response) -> str:
    """The page's text with tags removed and entities decoded (what a reader sees)."""
    return unescape(re.sub(r"<[^>]+>", "", response.text))


def assert_dashboard_headers(response: requests.Response) -> None:
    assert response.headers["Content-Security-Policy"] == DASHBOARD_CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def order_in(text: str, *needles: str) -> list[int]:
    positions = [text.find(needle) for needle in needles]
    assert all(position >= 0 for position in positions), list(zip(needles, positions, strict=True))
    return positions


@contextmanager
def audit_log_unavailable(database_url: str) -> Iterator[None]:
    """Make every audit write fail, for real: the table is renamed away for a moment."""
    engine = create_engine(db.sqlalchemy_url(database_url))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE audit_log RENAME TO audit_log_away")
        try:
            yield
        finally:
            with engine.begin() as connection:
                connection.exec_driver_sql("ALTER TABLE audit_log_away RENAME TO audit_log")
    finally:
        engine.dispose()


def new_patient_with_flag(clinic_id: int, sender_id: str, message: str) -> int:
    """A patient of ``clinic_id`` with one open flag, for tests that change flags."""
    with db.session_scope() as session:
        patient = Patient(sender_id=sender_id, clinic_id=clinic_id)
        session.add(patient)
        session.flush()
    return journal.record_risk_flag(sender_id, message=message, category="suicide", source="test")


# ----------------------------------------------------------------------------- list


@pytest.mark.slow
def test_patients_list_shows_the_clinic_with_open_flags_first(harbour: Browser) -> None:
    info = harbour.server.info

    mine = harbour.get("/therapist/")
    response = harbour.get("/therapist/?therapist=all")

    assert mine.status_code == response.status_code == 200
    assert_dashboard_headers(response)
    # By default the therapist's own patients, by the clinic's labels.
    assert re.findall(r'<th scope="row"><a href="/therapist/patients/([^"]+)"', mine.text) == [
        info.main,
        info.steady,
    ]
    assert f">{MAIN_LABEL}</a>" in mine.text and f">{STEADY_LABEL}</a>" in mine.text
    rows = re.findall(
        r'<tr class="(has-open-flags|no-open-flags)">\s*<th scope="row"><a href="/therapist/patients/([^"]+)"',
        response.text,
    )
    flagged = [sender for kind, sender in rows if kind == "has-open-flags"]
    calm = [sender for kind, sender in rows if kind == "no-open-flags"]
    # Open flags first, each group by latest activity; the patient who never wrote comes last.
    assert rows[: len(flagged)] == [("has-open-flags", s) for s in flagged]
    assert flagged[:2] == [info.main, info.xss]
    assert calm[-2:] == [info.steady, info.newcomer]
    assert info.other not in response.text
    text = text_of(response)
    assert "1 urgent" in text
    assert "2/10" in text and "7/10" in text  # main's latest mood and craving
    assert "no activity yet" in text
    rows = audit_rows("view_patients", info.therapist.email)
    assert rows and rows[-1].clinic_id == info.harbour.id and rows[-1].outcome == "ok"
    assert rows[-1].ip == "127.0.0.1"


def test_pages_need_a_session(web: SeededServer) -> None:
    anonymous = Browser(web)
    for path in (
        "/therapist/",
        page_path(web.info.main),
        page_path(web.info.main) + "/export.pdf",
    ):
        response = anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/therapist/login")
        assert CRISIS_TEXT not in response.text
    response = anonymous.post(
        page_path(web.info.main) + f"/flags/{web.info.open_flag_id}/acknowledge",
        data={"csrf_token": "x"},
    )
    assert response.status_code == 303
    with db.session_scope(write=False) as session:
        assert session.get(RiskFlag, web.info.open_flag_id).acknowledged_at is None


# ----------------------------------------------------------------------------- patient page


def test_patient_page_has_flags_chart_timeline_and_transcripts(harbour: Browser) -> None:
    info = harbour.server.info

    response = harbour.get(page_path(info.main))

    assert response.status_code == 200
    assert_dashboard_headers(response)
    html = response.text
    text = text_of(response)
    # The open flag comes first, with the message that raised it and an acknowledge form.
    flags, trend, journal_at, conversations = order_in(
        html, 'id="flags"', 'id="trend"', 'id="journal"', 'id="conversations"'
    )
    assert flags < trend < journal_at < conversations
    open_flag = html[flags:trend]
    assert f'id="flag-{info.open_flag_id}"' in open_flag
    assert CRISIS_TEXT.replace("'", "&#39;") in open_flag
    token = _TOKEN.search(html).group(1)
    assert (
        f'action="/therapist/patients/{info.main}/flags/{info.open_flag_id}/acknowledge"'
        in open_flag
    )
    assert f'name="csrf_token" value="{token}"' in open_flag
    assert f"Acknowledged by {info.therapist.email}" in text
    assert "disappear" in text  # the acknowledged flag's message
    # The chart: one SVG with the three session dates and every rating.
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    assert svg.get("role") == "img"
    assert len(svg.findall(".//*[@class='chart-session']")) == 3
    assert len(svg.findall(".//*[@class='chart-point chart-craving']")) == 12
    assert len(svg.findall(".//*[@class='chart-point chart-mood']")) == 9
    # Every entry, newest first, with every structured field.
    numbers = [int(n) for n in re.findall(r'<li id="entry-(\d+)"', html)]
    assert numbers == list(range(info.main_entry_count, 0, -1))
    for expected in (
        "tight jaw and shoulders",
        "it peaked after about 10 minutes and then eased",
        "Urge before",
        "8/10",
        "lonely, tired",
        "people, places",
        "Walked past the Anchor pub, Mark texted asking me out",
        "Call my sister on Sunday",
        "Slip reflection",
        "interrupted",
        "partial",
        "Ketamine session",
    ):
        assert expected in text, expected
    # Conversations: grouped, with who said what, newest first.
    conversation_numbers = re.findall(
        r'<article class="conversation card" id="conversation-(\d+)"', html
    )
    assert conversation_numbers == [str(n) for n in range(info.main_conversation_count, 0, -1)]
    assert "Patient" in text and "Assistant" in text
    assert "I really want a drink right now" in text
    assert "Options offered: Yes · No thanks" in text
    assert "raised a risk flag" in text
    anchor = re.search(
        rf'<a href="/therapist/patients/{info.main}#(message-\d+)">Read it in the conversation',
        html,
    ).group(1)
    flagged = re.search(rf'<li id="{anchor}" class="user flagged">.*?</li>', html, re.S).group(0)
    assert "ending it all tonight" in unescape(flagged)
    since = info.session_dates[-1].isoformat()
    assert f'href="/therapist/patients/{info.main}?from={since}">Since the last session' in html
    row = audit_rows("view_patient", info.therapist.email)[-1]
    assert (row.target, row.outcome, row.clinic_id) == (info.main, "ok", info.harbour.id)


def test_a_patient_without_activity(harbour: Browser) -> None:
    response = harbour.get(page_path(harbour.server.info.newcomer))

    assert response.status_code == 200
    text = text_of(response)
    assert "No open risk flags." in text
    assert "No mood or craving ratings yet." in text
    assert "No journal entries yet." in text
    assert "No conversations yet." in text
    assert "<svg" not in response.text


def test_search_marks_matches_in_entries_and_transcripts(harbour: Browser) -> None:
    info = harbour.server.info

    response = harbour.get(page_path(info.main), params={"q": "KITCHEN"})

    html = response.text
    assert re.findall(r'<li id="entry-(\d+)"', html) == ["2", "1"]
    assert "<mark>kitchen</mark>" in html
    assert re.findall(r'id="conversation-(\d+)"', html) == ["1"]
    assert 'class="user match"' in html
    # Open flags stay whatever the search; the chart still shows the whole trend.
    assert f'id="flag-{info.open_flag_id}"' in html
    assert html.count("chart-point chart-craving") == 12
    assert "Showing 2 of 12 journal entries and 1 of 5 conversations" in text_of(response)
    row = audit_rows("view_patient", info.therapist.email)[-1]
    assert row.detail == {"search": True}  # never the words searched for


def test_filters_by_kind_and_date(harbour: Browser) -> None:
    info = harbour.server.info
    response = harbour.get(page_path(info.main), params={"kind": "checkin"})
    assert re.findall(r'class="entry kind-(\w+)', response.text) == ["checkin"] * 6
    assert '<option value="checkin" selected>' in response.text
    assert 'id="conversations"' not in response.text

    response = harbour.get(page_path(info.main), params=[("kind", "conversation")])
    assert 'id="journal"' not in response.text
    assert len(re.findall(r'id="conversation-\d+"', response.text)) == 5

    day = (info.now - timedelta(days=8)).date().isoformat()
    response = harbour.get(page_path(info.main), params={"from": day, "to": day})
    assert re.findall(r'<li id="entry-(\d+)"', response.text) == ["10"]
    assert re.findall(r'id="conversation-(\d+)"', response.text) == ["4"]
    assert response.text.count("chart-point chart-mood") == 1
    assert f'value="{day}"' in response.text
    row = audit_rows("view_patient", info.therapist.email)[-1]
    assert row.detail == {"from": day, "to": day}

    response = harbour.get(page_path(info.main), params={"from": "last tuesday"})
    assert response.status_code == 200
    assert "was not a date (YYYY-MM-DD)" in text_of(response)
    assert len(re.findall(r'<li id="entry-\d+"', response.text)) == 12


def test_slips_are_marked_on_the_chart_and_listed(harbour: Browser) -> None:
    info = harbour.server.info
    sender_id = "p-slips-on-the-chart"
    with db.session_scope() as session:
        session.add(Patient(sender_id=sender_id, clinic_id=info.harbour.id))
    payload = '<img src=x onerror="alert(1)">'
    journal.save_entry(
        sender_id,
        "trigger",
        fields={
            "trigger_kind": "lapse",
            "substances": ["alcohol", "cocaine", payload],
            "lapse_date": "2026-03-07",
            "lapse_when": f"sat night {payload}",
            "context": "the party",
        },
        craving=8,
    )
    journal.save_entry(sender_id, "trigger", fields={"trigger_kind": "lapse"}, craving=6)

    response = harbour.get(page_path(sender_id))

    assert response.status_code == 200
    html = response.text
    assert payload not in html and "<img" not in html.lower()
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    titles = [
        g.findtext("{http://www.w3.org/2000/svg}title")
        for g in svg.iter()
        if g.get("class") == "chart-lapse"
    ]
    assert titles[0] == "Slip, Sat 7 Mar 2026: alcohol, cocaine — Slip reflection #1"
    assert titles[1].endswith(
        "(day of the slip not given): substance not named — Slip reflection #2"
    )
    assert payload not in ET.tostring(svg, encoding="unicode")  # no patient text in the chart
    trend = html[html.index('id="trend"') : html.index('id="journal"')]
    slips = re.findall(r'<li id="slip-(\d+)">(.*?)</li>', trend, re.S)
    assert [number for number, _ in slips] == ["2", "1"]  # newest first, like the page
    first = unescape(re.sub(r"<[^>]+>", "", slips[1][1]))
    assert first == (
        f"Sat 7 Mar 2026 · alcohol, cocaine · in their words: “sat night {payload}” · "
        "Slip reflection #1"
    )
    assert f'href="/therapist/patients/{sender_id}#entry-1"' in slips[1][1]
    assert "the day of the slip was not given" in slips[0][1]
    assert "orange diamonds under the time axis mark slips" in text_of(response)
    text = text_of(response)
    assert f"Substancesalcohol, cocaine, {payload}" in text  # the entry itself, escaped
    assert "Day of the slipSat 7 Mar 2026" in text

    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                harbour.get(page_path(sender_id) + "/export.csv").content.decode("utf-8-sig")
            )
        )
    )
    assert csv_rows[0]["substances"] == f"alcohol; cocaine; {payload}"
    assert csv_rows[0]["lapse_date"] == "2026-03-07"


# ----------------------------------------------------------------------------- scope


def test_other_clinics_patients_are_the_same_404_as_unknown_ones(harbour: Browser) -> None:
    info = harbour.server.info
    before = len(audit_rows("access_denied", info.therapist.email))
    other = harbour.get(page_path(info.other))
    unknown = harbour.get(page_path("p-does-not-exist"))

    assert other.status_code == unknown.status_code == 404
    assert other.text == unknown.text
    assert_dashboard_headers(other)
    assert NORTHSIDE_SECRET not in other.text and info.other not in other.text

    for path in (
        page_path(info.other) + "/export.csv",
        page_path(info.other) + "/export.json",
        page_path(info.other) + "/export.pdf",
    ):
        response = harbour.get(path)
        assert response.status_code == 404, path
        assert response.text == unknown.text
    rows = audit_rows("access_denied", info.therapist.email)[before:]
    assert [(row.outcome, row.detail["path"]) for row in rows] == [
        ("denied", page_path(info.other)),
        ("denied", page_path("p-does-not-exist")),
        ("denied", page_path(info.other) + "/export.csv"),
        ("denied", page_path(info.other) + "/export.json"),
        ("denied", page_path(info.other) + "/export.pdf"),
    ]
    assert all(row.clinic_id == info.harbour.id for row in rows)
    assert not [
        row for row in audit_rows("view_patient", info.therapist.email) if row.target == info.other
    ]


def test_each_clinic_sees_only_its_own(northside: Browser) -> None:
    info = northside.server.info
    listing = northside.get("/therapist/")
    assert info.other in listing.text
    for sender_id in info.harbour_patients:
        assert sender_id not in listing.text
        assert northside.get(page_path(sender_id)).status_code == 404
    page = northside.get(page_path(info.other))
    assert page.status_code == 200
    assert NORTHSIDE_SECRET in text_of(page)
    assert CRISIS_TEXT not in text_of(page)


def test_flags_of_other_patients_cannot_be_acknowledged(
    harbour: Browser, northside: Browser
) -> None:
    info = harbour.server.info
    token = _TOKEN.search(harbour.get("/therapist/").text).group(1)
    attempts = [
        # another clinic's flag, through its own patient's address
        page_path(info.other) + f"/flags/{info.other_flag_id}/acknowledge",
        # another clinic's flag, through one of our patients
        page_path(info.main) + f"/flags/{info.other_flag_id}/acknowledge",
        # another patient's flag in our clinic, through the wrong patient
        page_path(info.steady) + f"/flags/{info.xss_flag_id}/acknowledge",
        page_path(info.main) + "/flags/not-a-number/acknowledge",
    ]
    for path in attempts:
        response = harbour.post(path, data={"csrf_token": token})
        assert response.status_code == 404, path
    with db.session_scope(write=False) as session:
        for flag_id in (info.other_flag_id, info.xss_flag_id):
            assert session.get(RiskFlag, flag_id).acknowledged_at is None
    denied = audit_rows("access_denied", info.therapist.email)[-len(attempts) :]
    assert [row.detail["path"] for row in denied] == attempts


# ----------------------------------------------------------------------------- acknowledging


def test_acknowledging_a_flag_records_who_and_when(harbour: Browser) -> None:
    info = harbour.server.info
    sender_id = "p-ack-" + info.now.strftime("%H%M%S")
    flag_id = new_patient_with_flag(info.harbour.id, sender_id, "I want to end it")
    path = page_path(sender_id)
    page = harbour.get(path)
    token = _TOKEN.search(page.text).group(1)
    action = f"{path}/flags/{flag_id}/acknowledge"

    refused = harbour.post(action, data={"csrf_token": "forged"})
    missing = harbour.post(action, data={})
    assert refused.status_code == missing.status_code == 403
    with db.session_scope(write=False) as session:
        assert session.get(RiskFlag, flag_id).acknowledged_at is None

    before = utcnow()
    response = harbour.post(action, data={"csrf_token": token, "action": "Called the patient"})

    assert response.status_code == 303
    assert response.headers["Location"] == f"{path}?acknowledged={flag_id}#flag-{flag_id}"
    with db.session_scope(write=False) as session:
        flag = session.get(RiskFlag, flag_id)
        assert flag.acknowledged_by == info.therapist.email
        assert before <= flag.acknowledged_at <= utcnow()
        first_time = flag.acknowledged_at
    row = audit_rows("acknowledge_flag", info.therapist.email)[-1]
    assert (row.target, row.detail, row.outcome) == (
        sender_id,
        {"flag_id": flag_id, "action": "Called the patient", "note": False, "follow_up": None},
        "ok",
    )
    after = harbour.get(response.headers["Location"].split("#")[0])
    text = text_of(after)
    assert "No open risk flags." in text
    assert f"acknowledged by {info.therapist.email}" in text
    assert "Acknowledge</button>" not in after.text

    # A second acknowledgement (another tab, the admin) keeps the first one's name and time.
    admin = Browser(harbour.server).sign_in(info.admin)
    admin_token = _TOKEN.search(admin.get(path).text).group(1)
    second = {"csrf_token": admin_token, "action": "Seen in session"}
    assert admin.post(action, data=second).status_code == 303
    with db.session_scope(write=False) as session:
        flag = session.get(RiskFlag, flag_id)
        assert (flag.acknowledged_by, flag.acknowledged_at) == (info.therapist.email, first_time)


def test_a_coalesced_flag_shows_its_count_and_latest_messages_and_exports_the_count(
    harbour: Browser,
) -> None:
    info = harbour.server.info
    sender_id = "p-flood-" + info.now.strftime("%H%M%S")
    flag_id = new_patient_with_flag(info.harbour.id, sender_id, "crisis message 1")
    for number in range(2, 41):
        same = journal.record_risk_flag(
            sender_id, message=f"crisis message {number}", category="suicide", source="test"
        )
        assert same == flag_id

    page = harbour.get(page_path(sender_id))

    assert page.status_code == 200
    text = text_of(page)
    assert "40 messages in this flag" in text
    assert "34 messages in between are in the conversation only" in text
    assert "The first message that raised it:" in text
    latest = re.findall(r"crisis message (\d+)", text)
    assert latest.count("1") == 1 and [n for n in latest if n != "1"] == [
        "36",
        "37",
        "38",
        "39",
        "40",
    ]
    assert page.text.count('class="flag open') == 1

    flags_csv = harbour.get(page_path(sender_id) + "/export.flags.csv")
    rows = list(csv.DictReader(io.StringIO(flags_csv.content.decode("utf-8-sig"), newline="")))
    assert [(row["id"], row["message_count"]) for row in rows] == [(str(flag_id), "40")]
    assert rows[0]["latest_messages"].splitlines() == [f"crisis message {n}" for n in range(36, 41)]
    exported = harbour.get(page_path(sender_id) + "/export.json").json()
    assert [f["message_count"] for f in exported["risk_flags"]] == [40]


# ----------------------------------------------------------------------------- XSS


def test_payloads_in_journal_transcript_and_flags_render_as_text(harbour: Browser) -> None:
    info = harbour.server.info

    response = harbour.get(page_path(info.xss))

    html = response.text
    assert response.status_code == 200
    assert_dashboard_headers(response)
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_TRANSCRIPT, XSS_FLAG):
        assert payload not in html
        assert payload in text_of(response)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>bold?</b>" not in html
    assert "&lt;script&gt;" in html
    assert "onerror" in html  # as text, inside escaped markup only
    attributes = attribute_names(html)
    assert not {name for name in attributes if name.startswith("on")}
    assert "style" not in attributes  # the CSP forbids inline styles
    assert XSS_LABEL in text_of(response) and XSS_LABEL not in html

    searched = harbour.get(page_path(info.xss), params={"q": "<script>"})
    assert "<mark>&lt;script&gt;</mark>" in searched.text
    assert "<script" not in searched.text.lower()


# ----------------------------------------------------------------------------- exports


def test_csv_export(harbour: Browser) -> None:
    info = harbour.server.info

    response = harbour.get(page_path(info.xss) + "/export.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    # The label names the file, in safe characters only (the newcomer's has the short id).
    assert disposition.startswith(
        'attachment; filename="companion-img_src_x_onerror_alert_xss-label_C.X._4400-'
    )
    assert disposition.endswith('.csv"')
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert [row["number"] for row in rows] == ["1", "2"]
    assert rows[1]["context"] == "'" + FORMULA
    assert rows[1]["coping"] == "'-called my sponsor"
    assert rows[0]["note"] == XSS_SCRIPT
    row = audit_rows("export", info.therapist.email)[-1]
    assert (row.target, row.detail) == (info.xss, {"format": "csv"})
    newcomer = harbour.get(page_path(info.newcomer) + "/export.csv")
    assert f'filename="companion-{info.newcomer[:10]}-' in newcomer.headers["Content-Disposition"]


def test_json_export_is_what_the_command_line_prints(harbour: Browser) -> None:
    info = harbour.server.info

    response = harbour.get(page_path(info.main) + "/export.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    exported = response.json()
    expected = journal.export_patient(info.main)
    exported.pop("exported_at")
    expected.pop("exported_at")
    assert exported == expected
    assert len(exported["entries"]) == info.main_entry_count
    assert {flag["message"] for flag in exported["risk_flags"]} == {CRISIS_TEXT, OLD_CRISIS_TEXT}
    assert json.loads(response.content.decode("utf-8"))["patient"] == info.main
    assert audit_rows("export", info.therapist.email)[-1].detail == {"format": "json"}


def test_fhir_export_is_a_valid_bundle_of_the_record(harbour: Browser) -> None:
    from fhir.resources.R4B.bundle import Bundle

    info = harbour.server.info

    response = harbour.get(page_path(info.main) + "/export.fhir.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert response.headers["Content-Disposition"].endswith('.fhir.json"')
    bundle = Bundle.model_validate_json(response.content)
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds.count("QuestionnaireResponse") == info.main_entry_count
    assert kinds.count("Patient") == 1
    assert CRISIS_TEXT not in response.text  # flags carry level and category, not the words
    assert audit_rows("export", info.therapist.email)[-1].detail == {"format": "fhir.json"}


@pytest.mark.slow
def test_pdf_export(harbour: Browser) -> None:
    info = harbour.server.info

    response = harbour.get(page_path(info.main) + "/export.pdf")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].endswith('.pdf"')
    assert response.content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    text = re.sub(r"\s+", " ", text)
    assert info.main in text
    assert info.harbour.name in text
    assert "Call my sister on Sunday" in text
    assert CRISIS_TEXT in text
    assert f"by {info.therapist.email}" in text
    assert "Ketamine session" in text  # the chart's legend, drawn from the SVG
    row = audit_rows("export", info.therapist.email)[-1]
    assert (row.target, row.detail) == (info.main, {"format": "pdf"})


def test_unknown_export_format_is_404(harbour: Browser) -> None:
    response = harbour.get(page_path(harbour.server.info.main) + "/export.xlsx")
    assert response.status_code == 404


# ----------------------------------------------------------------------------- audit first


@pytest.mark.slow
def test_nothing_is_shown_when_the_access_cannot_be_audited(harbour: Browser) -> None:
    info = harbour.server.info
    paths = [
        "/therapist/",
        page_path(info.main),
        page_path(info.main) + "/export.csv",
        page_path(info.main) + "/export.json",
        page_path(info.main) + "/export.pdf",
        page_path(info.other),
    ]
    # uvicorn closes the connection after a failed request: one connection per request.
    with audit_log_unavailable(harbour.server.database_url):
        responses = [harbour.get(path, headers={"Connection": "close"}) for path in paths]
    for response in responses:
        assert response.status_code == 500, response.url
        for secret in (info.main, "kitchen", CRISIS_TEXT, NORTHSIDE_SECRET):
            assert secret not in response.text, (response.url, secret)
    # Working again once the audit log is back.
    assert harbour.get(page_path(info.main)).status_code == 200


def test_flag_levels_show_as_badges_and_filter_the_page_and_the_list(harbour: Browser) -> None:
    info = harbour.server.info
    sender_id = "p-levels-" + info.now.strftime("%H%M%S")
    urgent = new_patient_with_flag(info.harbour.id, sender_id, "I took all of it")
    elevated = journal.record_risk_flag(
        sender_id, message="I overdosed last week", category="recent", source="t", level="elevated"
    )
    note = journal.record_risk_flag(
        sender_id, message="craving is at nine", category="craving", source="t", level="info"
    )

    html = harbour.get(page_path(sender_id)).text

    for flag_id, level, label in (
        (urgent, "urgent", "Urgent"),
        (elevated, "elevated", "Elevated"),
        (note, "info", "Info"),
    ):
        article = html[html.index(f'id="flag-{flag_id}"') :]
        article = article[: article.index("</article>")]
        assert f'<span class="badge level-{level}">{label}</span>' in article, level
    filtered = harbour.get(page_path(sender_id) + "?level=elevated")
    assert f'id="flag-{elevated}"' in filtered.text
    assert f'id="flag-{urgent}"' not in filtered.text and f'id="flag-{note}"' not in filtered.text
    assert "2 open flags of other levels are not shown" in text_of(filtered)
    assert audit_rows("view_patient", info.therapist.email)[-1].detail == {"levels": ["elevated"]}

    listing = harbour.get("/therapist/?level=info&therapist=all")
    shown = re.findall(r'<th scope="row"><a href="/therapist/patients/([^"]+)"', listing.text)
    assert shown == [sender_id]
    assert audit_rows("view_patients", info.therapist.email)[-1].detail == {
        "patients": 1,
        "level": "info",
        "therapist": "all",
    }
    everyone = harbour.get("/therapist/?therapist=all").text
    cells = everyone[everyone.index(f"/therapist/patients/{sender_id}") :]
    cells = cells[: cells.index("</tr>")]
    for badge in ('level-urgent">1 urgent', 'level-elevated">1 elevated', 'level-info">1 info'):
        assert badge in cells
