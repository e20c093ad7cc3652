"""The patient page and its PDF as a five-minute preparation: the digest since the last session
at the top, times in the clinic's time zone, one order (newest first), transcripts closed,
button presses by their titles. A real server on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pypdf
import pytest
import requests
from servers import Browser

from bot.clinics import registry
from bot.journal import entries as journal
from bot.storage import db
from bot.storage.models import Patient, RiskFlag, utcnow
from bot.storage.rasa_events import EVENTS

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def page_path(sender_id: str) -> str:
    return f"/therapist/patients/{sender_id}"


def text_of(response: requests.Response) -> str:
    return unescape(re.sub(r"<[^>]+>", "", response.text))


def pdf_text(body: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def local(moment: datetime, zone: str) -> str:
    """How a time should read in ``zone``, worked out here rather than by the code under test."""
    shown = moment.astimezone(ZoneInfo(zone))
    return f"{shown.day} {shown:%b %Y, %H:%M %Z}"


def _add_patient(clinic_id: int, sender_id: str) -> None:
    with db.session_scope() as session:
        if session.query(Patient).filter_by(sender_id=sender_id).one_or_none() is None:
            session.add(Patient(sender_id=sender_id, clinic_id=clinic_id))


def _flag(sender_id: str, at: datetime, message: str, level: str = "elevated") -> None:
    with db.session_scope() as session:
        patient = session.query(Patient).filter_by(sender_id=sender_id).one()
        session.add(
            RiskFlag(
                patient_id=patient.id,
                category="overdose",
                source="detector",
                level=level,
                message=message,
                created_at=at,
                last_message_at=at,
            )
        )


def _events(sender_id: str, start: datetime, said: list[tuple[str, str, dict]]) -> None:
    """One conversation: ``(type, text, extra data)`` rows a second apart."""
    rows = []
    clock = start.timestamp()
    rows.append(
        {
            "sender_id": sender_id,
            "type_name": "session_started",
            "timestamp": clock,
            "data": json.dumps({"event": "session_started"}),
        }
    )
    for type_name, text, extra in said:
        clock += 60
        rows.append(
            {
                "sender_id": sender_id,
                "type_name": type_name,
                "timestamp": clock,
                "intent_name": extra.pop("intent", None),
                "data": json.dumps({"event": type_name, "text": text, **extra}),
            }
        )
    with db.get_engine().begin() as connection:
        connection.execute(EVENTS.insert(), rows)


def test_one_moment_reads_in_each_clinics_own_time(harbour: Browser, northside: Browser) -> None:
    info = harbour.server.info
    registry.update(info.harbour.slug, timezone="Europe/London")
    registry.update(info.northside.slug, timezone="America/Los_Angeles")
    moment = (utcnow() - timedelta(days=1)).replace(minute=17, second=0, microsecond=0)
    for clinic_id, sender_id in ((info.harbour.id, "p-tz-london"), (info.northside.id, "p-tz-la")):
        _add_patient(clinic_id, sender_id)
        _flag(sender_id, moment, "took a few too many last night")
    try:
        london = harbour.get(page_path("p-tz-london"))
        angeles = northside.get(page_path("p-tz-la"))
        pdf = harbour.get(page_path("p-tz-london") + "/export.pdf")
    finally:
        registry.update(info.harbour.slug, timezone="UTC")
        registry.update(info.northside.slug, timezone="UTC")

    assert london.status_code == angeles.status_code == pdf.status_code == 200
    in_london, in_angeles = local(moment, "Europe/London"), local(moment, "America/Los_Angeles")
    assert in_london != in_angeles
    london_text, angeles_text = text_of(london), text_of(angeles)
    assert in_london in london_text and in_angeles not in london_text
    assert in_angeles in angeles_text and in_london not in angeles_text
    assert "Times in Europe/London" in london_text
    assert "Times in America/Los_Angeles" in angeles_text
    # The digest at the top says it too, and the PDF reads the same.
    digest = london.text[london.text.index('id="digest"') : london.text.index('id="flags"')]
    assert in_london in unescape(re.sub(r"<[^>]+>", "", digest))
    assert in_london in pdf_text(pdf.content) and "Times in Europe/London" in pdf_text(pdf.content)


def test_the_digest_is_at_the_top_of_the_page_and_of_the_pdf(harbour: Browser) -> None:
    info = harbour.server.info
    today = utcnow().date()
    last_session = max(day for day in info.session_dates if day <= today)
    days = (today - last_session).days

    page = harbour.get(page_path(info.main))
    pdf = pdf_text(harbour.get(page_path(info.main) + "/export.pdf").content)

    html = page.text
    assert html.index('id="digest"') < html.index('class="actions"') < html.index('id="flags"')
    heading = re.search(r'<h2 id="digest-heading">(.*?)</h2>', html).group(1)
    expected = f"Since the session on {last_session.day} {last_session:%b} ("
    assert heading.startswith(expected), heading
    assert heading.endswith(("today)", "1 day)", f"{days} days)"))
    for label in (
        "Journal entries",
        "Mood",
        "Craving",
        "Slips",
        "Risk flags",
        "Requests for the care team",
        "Measures done",
        "Measures due",
        "Questions the assistant could not answer",
    ):
        assert f"<dt>{label}</dt>" in html, label
        assert label in pdf, label
    # In the PDF, after the summary table and before the risk flags and everything else.
    assert pdf.index("Times in") < pdf.index(unescape(heading)) < pdf.index("Safety plan")


def test_one_order_newest_first_on_the_page_and_in_the_pdf(harbour: Browser) -> None:
    info = harbour.server.info

    html = harbour.get(page_path(info.main)).text
    pdf = pdf_text(harbour.get(page_path(info.main) + "/export.pdf").content)

    numbers = [int(n) for n in re.findall(r'<li id="entry-(\d+)"', html)]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == info.main_entry_count
    journal_part = pdf[pdf.index("Journal, newest first") :]
    in_journal = [int(n) for n in re.findall(r"#(\d+) [A-Z]", journal_part)]
    assert in_journal == numbers  # the same order as the page
    conversations = [int(n) for n in re.findall(r'id="conversation-(\d+)"', html)]
    assert conversations == sorted(conversations, reverse=True)


def test_transcripts_are_closed_with_their_count_and_times(harbour: Browser) -> None:
    info = harbour.server.info

    html = harbour.get(page_path(info.main)).text
    searched = harbour.get(page_path(info.main), params={"q": "kitchen"}).text

    closed = re.findall(r'<details class="transcript-details"( open)?>', html)
    assert len(closed) == info.main_conversation_count and not any(closed)
    summaries = re.findall(r"<summary><h3 [^>]*>(.*?)</h3></summary>", html, re.S)
    assert len(summaries) == info.main_conversation_count
    for summary in summaries:
        text = unescape(re.sub(r"<[^>]+>", "", summary))
        assert re.fullmatch(
            r"Conversation \d+ · \d+ messages? · \d+ \w{3} \d{4}, \d\d:\d\d UTC – "
            r"(\d\d:\d\d|\d+ \w{3} \d{4}, \d\d:\d\d UTC)( raised a risk flag)?",
            text,
        ), text
    # A search opens the conversations it found something in.
    assert '<details class="transcript-details" open>' in searched


def test_button_presses_show_their_titles_never_their_payloads(harbour: Browser) -> None:
    info = harbour.server.info
    sender_id = "p-pressing-buttons"
    _add_patient(info.harbour.id, sender_id)
    journal.save_entry(sender_id, "checkin", fields={"note": "fine"}, mood=5)
    start = utcnow() - timedelta(hours=3)
    menu = {
        "data": {
            "buttons": [
                {"title": "Reflect on a session", "payload": "/start_integration"},
                {"title": "Quick check-in", "payload": "/start_checkin"},
            ]
        }
    }
    answers = {"data": {"buttons": [{"title": "Several days", "payload": "phq9.1.1"}]}}
    _events(
        sender_id,
        start,
        [
            ("bot", "What would you like to do?", menu),
            ("user", "/start_integration", {"intent": "start_integration"}),
            ("bot", "Little interest or pleasure in doing things?", answers),
            ("user", "phq9.1.1", {}),
            ("user", '/measure_answer{"value": 2}', {"intent": "measure_answer"}),
            ("user", "/show_journal", {"intent": "show_journal"}),
        ],
    )

    html = harbour.get(page_path(sender_id)).text

    said = [
        unescape(text)
        for text in re.findall(r'<span class="said pressed">(.*?)</span>', html, re.S)
    ]
    assert said == ["Reflect on a session", "Several days", "Measure answer", "Show my journal"]
    for payload in ("/start_integration", "phq9.1.1", "/measure_answer", "/show_journal"):
        assert payload not in html, payload
